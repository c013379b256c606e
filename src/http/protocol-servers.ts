import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import { armDeadline, h1Options, h2Options, limitDefaults, type ListenerLimits } from "./limits.js";
import type { SniffedProtocol } from "./sniff-protocol.js";

/** RequestHandler serves one request, whichever of HTTP/1.1 or HTTP/2 it arrived over. */
export type RequestHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** ProtocolServerOptions are the ListenerOptions of serving requests on a connection whose protocol is known. */
export interface ProtocolServerOptions extends ListenerLimits {
  /** handler serves every request, e.g. `connectNodeAdapter(...)` behind the REST router. */
  handler: RequestHandler;
  /** keepAliveTimeoutMs closes a connection (either protocol) that has been idle this long. */
  keepAliveTimeoutMs?: number;
  /**
   * onError receives connection-level and handler errors, including routine client resets and
   * parse errors (log them at a low level); none of them stops the listener.
   */
  onError?: (err: unknown) => void;
}

/** ProtocolServers are the HTTP/1.1 and HTTP/2 servers that serve a connection's requests once its protocol is known. */
export interface ProtocolServers {
  /** report hands `err` to onError, once per error object; a throwing onError is ignored. */
  report(err: unknown): void;
  /** serve hands `socket` to the server of `protocol`, unless it is destroyed already. */
  serve(socket: net.Socket, protocol: SniffedProtocol): void;
  /** started starts the HTTP/1.1 server's request tracking; call it when the port is being bound. */
  started(): void;
  /** drain asks every connection, open or later, to leave while serving on; once, and not after beginClose. */
  drain(): void;
  /** beginClose asks every later request and session to leave, and ends a socket after its HTTP/1.1 response. */
  beginClose(): void;
  /** askToLeave makes unsent HTTP/1.1 responses say `connection: close` and sends every HTTP/2 session GOAWAY. */
  askToLeave(): void;
  /** closeIdle closes the HTTP/1.1 connections without a request in flight. */
  closeIdle(): void;
}

// Above the 60 s idle timeout of common load balancers (AWS ALB, GCP): the proxy, not this
// server, should close an idle connection, or it may send a request into a closing socket.
const defaultKeepAliveTimeoutMs = 65_000;

/** createProtocolServers returns the ProtocolServers for `options.handler`. */
export function createProtocolServers(options: ProtocolServerOptions): ProtocolServers {
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? defaultKeepAliveTimeoutMs;
  const requestTimeoutMs = options.requestTimeoutMs ?? limitDefaults.requestTimeoutMs;
  const responses = new Set<http.ServerResponse>();
  const sessions = new Set<http2.ServerHttp2Session>();
  // An HTTP/2 socket error also surfaces as its session's error: report each error once.
  const reported = new WeakSet<object>();
  let closing = false;
  let draining = false;

  function report(err: unknown): void {
    if (typeof err === "object" && err !== null) {
      if (reported.has(err)) return;
      reported.add(err);
    }
    try {
      options.onError?.(err);
    } catch {
      // A failing error callback must not turn a bad client into a crashed process.
    }
  }

  function dispatch(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    const fail = (err: unknown): void => {
      report(err);
      if (!res.headersSent) {
        res.statusCode = 500;
        (res as http.ServerResponse).end();
      } else if (res instanceof http.ServerResponse) {
        res.destroy();
      } else {
        res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      }
    };
    // A late write after the deadline's 408 must not become an unhandled 'error' event.
    if (res instanceof http.ServerResponse) res.on("error", report);
    armDeadline(req, res, requestTimeoutMs);
    try {
      // The handler is typed to return void, but an async one must not become an unhandled rejection.
      const result: unknown = options.handler(req, res);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  const h1 = http.createServer(h1Options(options, keepAliveTimeoutMs), (req, res) => {
    responses.add(res);
    res.once("close", () => responses.delete(res));
    if (closing || draining) res.setHeader("connection", "close");
    // A response whose headers went out before close() could not say `connection: close`.
    res.once("finish", () => {
      // Node may have detached the socket from a finished request already.
      if (closing) (req.socket as net.Socket | null)?.end();
    });
    dispatch(req, res);
  });
  const h2 = http2.createServer(h2Options(options), dispatch);
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // close() sends GOAWAY and lets open streams finish, unlike the default destroy on timeout.
    session.setTimeout(keepAliveTimeoutMs, () => session.close());
    if (closing) session.close();
    // GOAWAY before its first stream would refuse that stream, and the client would come back
    // on a new connection for the same answer: serve what it sent first, as HTTP/1.1 does.
    else if (draining) session.once("stream", () => session.close());
  });
  h2.on("sessionError", report);

  function askToLeave(): void {
    for (const res of responses) if (!res.headersSent) res.setHeader("connection", "close");
    // GOAWAY names the last stream the session took in: those finish, later ones are refused
    // unprocessed, which the client knows it may retry (RFC 9113 §6.8).
    for (const session of sessions) session.close();
  }

  return {
    report,
    serve(socket, protocol) {
      // Accepted before close(): its request is answered, as on an idle connection (see shutdown
      // in listener.ts).
      if (socket.destroyed) {
        return;
      } else if (protocol === "h2") {
        // http.Server needs half-open sockets to answer a client that shut down its side after
        // the request; an HTTP/2 session instead ends with the connection, as in http2.Server.
        socket.allowHalfOpen = false;
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
      }
    },
    started() {
      // http.Server starts the tracking that enforces headersTimeout and requestTimeout on
      // 'listening', which it never emits here because it never binds a port itself.
      h1.emit("listening");
    },
    drain() {
      if (draining || closing) return;
      draining = true;
      askToLeave();
    },
    beginClose() {
      closing = true;
    },
    askToLeave,
    closeIdle() {
      h1.close();
    },
  };
}
