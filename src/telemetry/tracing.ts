import {
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from "@opentelemetry/api";

// Traces through @opentelemetry/api only: until the host registers an SDK (a tracer provider, a
// context manager and a propagator), every call here is the API's no-op, and the service pays a
// few function calls per request. The service never registers one itself: that is the host's choice.

/** tracer is the service's tracer; it follows whatever provider the host registers, even later. */
export const tracer = trace.getTracer("m2m-auth");

/** nodeHeaders reads node's IncomingHttpHeaders (lower-case names; a repeated header as an array). */
export const nodeHeaders: TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** fetchHeaders reads a fetch API Headers object, as Connect interceptors see them. */
export const fetchHeaders: TextMapGetter<Headers> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key) ?? undefined,
};

/**
 * startServerSpan starts the span of an incoming request, continuing the caller's trace when its
 * headers carry one (W3C `traceparent`, read by the host's propagator), and returns it with the
 * context to run the handler in, so the host's own outgoing calls carry it on. The context is
 * undefined when there is no trace at all (no SDK, no caller's trace): nothing to make active.
 */
export function startServerSpan<C>(name: string, attributes: Attributes, carrier: C, getter: TextMapGetter<C>): { span: Span; context: Context | undefined } {
  const parent = propagation.extract(context.active(), carrier, getter);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  // The API's no-op span has an invalid context: a copy of the context map per request saved.
  if (!isSpanContextValid(span.spanContext())) return { span, context: undefined };
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * startChildSpan starts a span under the active one, or returns undefined when that one is not
 * recording (no SDK, or not sampled): a child of it would not be recorded either (the default
 * parent-based sampling), and store and signing calls are too frequent to allocate for nothing.
 */
export function startChildSpan(name: string, attributes: Attributes, kind: SpanKind = SpanKind.INTERNAL): Span | undefined {
  const active = context.active();
  if (trace.getSpan(active)?.isRecording() !== true) return undefined;
  return tracer.startSpan(name, { kind, attributes }, active);
}

/**
 * endSpan ends a span with its outcome. A failure is recorded by its error's name only: a message
 * may quote what a tenant sent, and a span leaves the process.
 */
export function endSpan(span: Span | undefined, err?: unknown, status?: string): void {
  if (span === undefined) return;
  if (err !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: status ?? (err instanceof Error ? err.name : "error") });
  span.end();
}

/** inChildSpan runs `run` inside a child span of the active one (see startChildSpan). */
export async function inChildSpan<T>(name: string, attributes: Attributes, run: () => Promise<T>, kind?: SpanKind): Promise<T> {
  const span = startChildSpan(name, attributes, kind);
  if (span === undefined) return run();
  try {
    const result = await run();
    endSpan(span);
    return result;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}
