import * as http from "node:http";
import * as http2 from "node:http2";

// Bounds on what one client can hold open. HTTP/1.1 has requestTimeout, but it only bounds
// receiving the request; HTTP/2 has nothing like it: its timeouts are idle timeouts, which a
// client trickling a byte now and then keeps alive forever, node advertises 2^32-1 concurrent
// streams, and a session waits for its open streams on close. So every request, either protocol,
// gets one absolute deadline for its whole exchange (body in, response out), and streams per
// session and connections per listener are capped.

/** ListenerLimits are the resource bounds of a listener; every one has a default. */
export interface ListenerLimits {
  /**
   * requestTimeoutMs is an absolute deadline, either protocol, for a request's whole exchange:
   * one still open then is answered 408, or cut off if its response had begun. 0 disables it.
   */
  requestTimeoutMs?: number;
  /** maxConcurrentStreams is the open-stream limit per HTTP/2 session that the server advertises. */
  maxConcurrentStreams?: number;
  /** maxConnections caps open TCP connections; the server drops those beyond it at once. */
  maxConnections?: number;
}

/** limitDefaults are the values of ListenerLimits left unset. */
export const limitDefaults = {
  requestTimeoutMs: 30_000,
  maxConcurrentStreams: 100,
  maxConnections: 10_000,
} as const satisfies Required<ListenerLimits>;

/** h1Options are the http.Server options for `limits` and the keep-alive timeout. */
export function h1Options(limits: ListenerLimits, keepAliveTimeoutMs: number): http.ServerOptions {
  const requestTimeout = Math.max(0, limits.requestTimeoutMs ?? limitDefaults.requestTimeoutMs);
  return {
    // requestTimeout bounds a request that never reaches the handler; armDeadline the rest.
    headersTimeout: requestTimeout > 0 ? Math.min(10_000, requestTimeout) : 10_000,
    requestTimeout,
    keepAliveTimeout: keepAliveTimeoutMs,
    connectionsCheckingInterval: 1_000,
  };
}

/** h2Options are the http2.Server options for `limits`. */
export function h2Options(limits: ListenerLimits): http2.ServerOptions {
  return {
    // nghttp2 refuses (REFUSED_STREAM) a stream beyond the advertised limit.
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams ?? limitDefaults.maxConcurrentStreams },
    // Megabytes a session may buffer before it refuses new streams (node's default, made explicit).
    maxSessionMemory: 10,
  };
}

/**
 * armDeadline gives one request `ms` milliseconds to complete its response. A request still open
 * then is answered 408 (and its connection closed, or its stream reset with NO_ERROR so the
 * client stops sending, RFC 9113 §8.1) if no response has started, else cut off: the connection
 * destroyed for HTTP/1.1, the stream reset with CANCEL for HTTP/2. A handler still reading the
 * body sees it fail rather than end early. `ms` 0 (or less) arms nothing.
 */
export function armDeadline(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse, ms: number): void {
  if (!(ms > 0)) return;
  const timer = setTimeout(() => expire(req, res), ms);
  // 'close' follows a complete response and an aborted one alike, for both protocols.
  res.once("close", () => clearTimeout(timer));
}

// How long a 408 may take to reach an HTTP/2 peer before its stream is cancelled.
const expiredGraceMs = 200;

function expire(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  if (res instanceof http.ServerResponse) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    // `connection: close` makes node end the socket once the 408 is written instead of waiting
    // for the rest of the body; the unfinished request then fails for a handler reading it.
    res.writeHead(408, { connection: "close", "content-length": "0" });
    res.end();
    return;
  }
  const stream = res.stream;
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_CANCEL);
  } else {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.writeHead(408, { "content-length": "0" });
    res.end();
    // Once the response is out, this asks a client still sending its body to stop, without an
    // error. (Closing at once instead can leave the response unsent when the body had ended.)
    const stop = (): void => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    };
    if (stream.writableFinished) stop();
    else stream.once("finish", stop);
    // Whatever holds the response back (a peer that stopped reading), the stream ends soon after
    // its deadline all the same: the deadline is absolute.
    setTimeout(() => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    }, expiredGraceMs).unref();
  }
  // The stream's close would end the request as if its body were complete: make a reader fail.
  (req as http2.Http2ServerRequest).destroy();
}
