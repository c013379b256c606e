// The one policy for every HTTP request the library sends (the JWKS, the token request, the
// authorization server metadata): a deadline over headers and body, no redirect followed, a capped
// body, and JSON only when the response says it is JSON.

/** maxResponseBytes is the largest response body the library reads (1 MiB); a larger one is refused. */
export const maxResponseBytes = 1024 * 1024;

/** OutboundRequest is one request to send under the policy. */
export interface OutboundRequest {
  /** what names the request in error messages, e.g. "token request"; never a URL or a secret. */
  what: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  fetch: typeof fetch;
}

/** OutboundResponse is an answer read in full within the policy. */
export interface OutboundResponse {
  status: number;
  headers: Headers;
  /** body is the parsed JSON body; undefined when the response is not JSON (see `notJson`). */
  body: unknown;
  /** notJson says why `body` is undefined: the content type or the bytes were not JSON. */
  notJson?: string;
}

/** OutboundFetchError is a request that got no usable answer; its message names `what` only. */
export class OutboundFetchError extends Error {
  /** reason: no answer (network), too slow (timeout), a 3xx (redirect) or an oversized body. */
  readonly reason: "network" | "timeout" | "redirect" | "too-large";
  /** status is the HTTP status when an answer came (redirect, too-large). */
  readonly status: number | undefined;

  constructor(reason: OutboundFetchError["reason"], message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OutboundFetchError";
    this.reason = reason;
    this.status = options.status;
  }
}

const drop = (res: Response): Promise<void> => res.body?.cancel().catch(() => undefined) ?? Promise.resolve();

async function readCapped(res: Response, what: string): Promise<Uint8Array> {
  const tooLarge = () => new OutboundFetchError("too-large", `${what}: response is larger than ${maxResponseBytes} bytes`, { status: res.status });
  if (Number(res.headers.get("content-length")) > maxResponseBytes) {
    await drop(res);
    throw tooLarge();
  }
  if (res.body === null) return new Uint8Array(0);
  const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxResponseBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

// application/json, or any +json type such as application/jwk-set+json (RFC 7517 §8.5, RFC 6839 §3.1).
function isJsonType(contentType: string | null): boolean {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || /^application\/[\w.+-]+\+json$/.test(type);
}

async function send(url: string, req: OutboundRequest, signal: AbortSignal): Promise<OutboundResponse> {
  let res: Response;
  try {
    res = await req.fetch(url, {
      method: req.method ?? "GET",
      ...(req.headers === undefined ? {} : { headers: req.headers }),
      ...(req.body === undefined ? {} : { body: req.body }),
      // Never followed: keys and metadata come from the configured URL only (RFC 8725 §3.10), and
      // credentials are never replayed to wherever a redirect points.
      redirect: "manual",
      signal,
    });
  } catch (cause) {
    throw new OutboundFetchError("network", `${req.what} failed: network error`, { cause });
  }
  // A browser-like fetch answers a manual redirect with an opaque response of status 0.
  if ((res.status >= 300 && res.status < 400) || res.type === "opaqueredirect") {
    await drop(res);
    throw new OutboundFetchError("redirect", `${req.what}: HTTP ${res.status}, a redirect, is not followed`, { status: res.status });
  }
  const contentType = res.headers.get("content-type");
  if (!isJsonType(contentType)) {
    await drop(res);
    return { status: res.status, headers: res.headers, body: undefined, notJson: `content type ${JSON.stringify(contentType ?? "")} is not JSON` };
  }
  const bytes = await readCapped(res, req.what);
  try {
    return { status: res.status, headers: res.headers, body: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
  } catch {
    return { status: res.status, headers: res.headers, body: undefined, notJson: "body is not UTF-8 JSON" };
  }
}

/**
 * fetchJson sends `req` to `url` under the library's one outbound policy and reads the answer:
 * within `timeoutMs` for headers and body (even with an injected fetch that ignores its signal), no
 * redirect followed, at most maxResponseBytes read, the body parsed only when its content type is
 * JSON. It throws OutboundFetchError when no usable answer came; any status is returned.
 */
export function fetchJson(url: string, req: OutboundRequest): Promise<OutboundResponse> {
  const signal = AbortSignal.timeout(req.timeoutMs);
  const deadline = new Promise<never>((_, reject) => {
    const onAbort = () => reject(new OutboundFetchError("timeout", `${req.what} timed out after ${req.timeoutMs} ms`, { cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([send(url, req, signal), deadline]);
}
