import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { context } from "@opentelemetry/api";
import type { Metrics } from "./metrics.js";
import { endSpan, fetchHeaders, startServerSpan } from "./tracing.js";

// Every RPC's duration and span, from an interceptor placed first (outermost): it sees the call
// as the caller does, refusals by the auth interceptor included. Names come from the schema, so
// the label set is bounded; a path no service serves never reaches an interceptor.

/** codeName is the Connect protocol's name of a code ("invalid_argument"), as the label value. */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, at: number) => (at === 0 ? "" : "_") + c.toLowerCase());
}

const codeNames = new Map<Code, string>();
function nameOf(err: unknown): string {
  const code = ConnectError.from(err).code;
  let name = codeNames.get(code);
  if (name === undefined) codeNames.set(code, (name = codeName(code)));
  return name;
}

interface MethodNames {
  readonly service: string;
  readonly method: string;
  readonly span: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** createTelemetryInterceptor returns the interceptor that times each RPC and runs it inside its server span. */
export function createTelemetryInterceptor(metrics: Metrics): Interceptor {
  const names = new WeakMap<DescMethod, MethodNames>();
  function namesOf(method: DescMethod): MethodNames {
    let found = names.get(method);
    if (found === undefined) {
      const service = method.parent.typeName;
      // OTel's RPC conventions: the span is "package.Service/Method".
      const attributes = { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": method.name };
      names.set(method, (found = { service, method: method.name, span: `${service}/${method.name}`, attributes }));
    }
    return found;
  }
  return (next) => async (req) => {
    const start = performance.now();
    const named = namesOf(req.method);
    const { span, context: active } = startServerSpan(named.span, named.attributes, req.header, fetchHeaders);
    try {
      const res = await (active === undefined ? next(req) : context.with(active, next, undefined, req));
      metrics.rpc(named.service, named.method, "ok", (performance.now() - start) / 1000);
      endSpan(span);
      return res;
    } catch (err) {
      const code = nameOf(err);
      metrics.rpc(named.service, named.method, code, (performance.now() - start) / 1000);
      span.setAttribute("rpc.connect_rpc.error_code", code);
      endSpan(span, err, code);
      throw err;
    }
  };
}
