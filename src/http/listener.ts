import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { ReservedPort } from "./reserved-port.js";
import { armDeadline, h1Options, h2Options, limitDefaults, type ListenerLimits } from "./limits.js";
import { sniffProtocol, type SniffedProtocol } from "./sniff-protocol.js";

// http2.createServer alone answers HTTP/1.1 clients with garbage, and http.createServer cannot
// speak h2c, so a plain TCP server accepts every connection, reads its first bytes and hands it
// to the protocol server that understands them. gRPC needs HTTP/2; browsers, curl and REST
// clients mostly use HTTP/1.1; both reach the same handler on the same port. With TLS the
// handshake's ALPN (RFC 7301) names the protocol instead, and the same two servers take over the
// decrypted socket, so limits, drain and close behave alike in both modes.

/** RequestHandler serves one request, whichever of HTTP/1.1 or HTTP/2 it arrived over. */
export type RequestHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** TlsCredentials are a PEM certificate (chain) and its unencrypted PEM private key. */
export interface TlsCredentials {
  cert: string | Buffer;
  key: string | Buffer;
}

/** ListenerOptions configures createListener; ListenerLimits bound what clients can hold open. */
export interface ListenerOptions extends ListenerLimits {
  /** handler serves every request, e.g. `connectNodeAdapter(...)` behind the REST router. */
  handler: RequestHandler;
  /** host is the address to bind, e.g. `127.0.0.1`, `0.0.0.0` or `::`. */
  host: string;
  /** port is the TCP port to bind; 0 picks a free one (read it from `listen()`). */
  port: number;
  /** reserved is the port bound already (reservePort): listen() takes it over instead of binding host and port. */
  reserved?: ReservedPort | undefined;
  /** shutdownTimeoutMs is how long close() waits for in-flight requests before it destroys them. */
  shutdownTimeoutMs?: number;
  /**
   * idleGraceMs is how long after close() an idle HTTP/1.1 keep-alive connection, or an accepted
   * one that has not sent its first bytes, still gets a request answered (with `connection:
   * close`) before it is closed; default 500, at most shutdownTimeoutMs.
   */
  idleGraceMs?: number;
  /** keepAliveTimeoutMs closes a connection (either protocol) that has been idle this long. */
  keepAliveTimeoutMs?: number;
  /**
   * tls serves TLS (1.2 or later) instead of cleartext: ALPN `h2` or `http/1.1`, a client that
   * names neither gets HTTP/1.1. Undefined: cleartext HTTP/1.1 and h2c.
   */
  tls?: TlsCredentials | undefined;
  /** sniffTimeoutMs destroys a connection that has not shown its protocol (or finished its TLS handshake) within this time. */
  sniffTimeoutMs?: number;
  /**
   * onError receives connection-level and handler errors, including routine client resets and
   * parse errors (log them at a low level); none of them stops the listener.
   */
  onError?: (err: unknown) => void;
}

/** ListenerAddress is where a listener is bound; `url` is `http://host:port` (`https://` with TLS) for that address. */
export interface ListenerAddress {
  host: string;
  port: number;
  url: string;
}

/** Listener serves HTTP/1.1 and HTTP/2 on one TCP port, in cleartext or over TLS. */
export interface Listener {
  /** listen binds the port; calling it again returns the same result. */
  listen(): Promise<ListenerAddress>;
  /** address is where the listener is bound, or undefined before listen() has resolved. */
  readonly address: ListenerAddress | undefined;
  /**
   * drain keeps serving but asks every client to leave, so a balancer can move traffic away
   * before close(): HTTP/1.1 responses say `connection: close`, HTTP/2 sessions get GOAWAY once
   * their open streams are in (a session opened meanwhile, after its first stream).
   */
  drain(): void;
  /** close stops accepting, lets in-flight requests finish, then destroys what is left. */
  close(): Promise<void>;
  /**
   * setTlsCredentials makes later handshakes use `credentials`; open connections keep theirs. It
   * throws (and the old ones stay) when they are unusable or the listener has no TLS.
   */
  setTlsCredentials(credentials: TlsCredentials): void;
}

// TLS 1.0 and 1.1 are deprecated (RFC 8996); Node's default floor, said here so no default can lower it.
const minTlsVersion = "TLSv1.2";

const defaultShutdownTimeoutMs = 10_000;
// Above the 60 s idle timeout of common load balancers (AWS ALB, GCP): the proxy, not this
// server, should close an idle connection, or it may send a request into a closing socket.
const defaultKeepAliveTimeoutMs = 65_000;
const defaultSniffTimeoutMs = 10_000;
// Long enough for a request already on its way, or sent in reply to the last response, to arrive.
const defaultIdleGraceMs = 500;

/** createListener returns a Listener for `options.handler`; it binds nothing until listen(). */
export function createListener(options: ListenerOptions): Listener {
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? defaultShutdownTimeoutMs;
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? defaultKeepAliveTimeoutMs;
  const sniffTimeoutMs = options.sniffTimeoutMs ?? defaultSniffTimeoutMs;
  const idleGraceMs = Math.min(options.idleGraceMs ?? defaultIdleGraceMs, shutdownTimeoutMs);
  const requestTimeoutMs = options.requestTimeoutMs ?? limitDefaults.requestTimeoutMs;
  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  const responses = new Set<http.ServerResponse>();
  const sessions = new Set<http2.ServerHttp2Session>();
  // An HTTP/2 socket error also surfaces as its session's error: report each error once.
  const reported = new WeakSet<object>();
  let closing = false;
  let draining = false;
  let bound: ListenerAddress | undefined;
  let listening: Promise<ListenerAddress> | undefined;
  let closed: Promise<void> | undefined;

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

  function serve(socket: net.Socket, protocol: SniffedProtocol): void {
    // Accepted before close(): its request is answered, as on an idle connection (see shutdown).
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
  }

  function track(socket: net.Socket): void {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Resets from clients are routine; this listener also keeps any socket error from crashing us.
    socket.on("error", report);
  }

  const secureOptions = (credentials: TlsCredentials): tls.SecureContextOptions => ({
    cert: credentials.cert,
    key: credentials.key,
    minVersion: minTlsVersion,
  });
  // Only the handshake: the decrypted socket goes to the same HTTP/1.1 and HTTP/2 servers as a
  // cleartext one. The handshake has the sniffing deadline, for the same reason.
  const secure =
    options.tls === undefined
      ? undefined
      : tls.createServer({ ...secureOptions(options.tls), ALPNProtocols: ["h2", "http/1.1"], handshakeTimeout: sniffTimeoutMs }, (socket) => {
          // The TCP socket under it has shown its protocol (node names it `_parent`, which it has for years).
          const parent = (socket as unknown as { _parent?: unknown })._parent;
          if (parent instanceof net.Socket) sniffing.delete(parent);
          track(socket);
          serve(socket, socket.alpnProtocol === "h2" ? "h2" : "http/1.1");
        });
  // A failed handshake (an old protocol version, a timeout, garbage) is the client's problem; node destroys its socket.
  secure?.on("tlsClientError", report);

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    track(socket);
    if (closing) {
      socket.destroy();
      return;
    }
    sniffing.add(socket);
    if (secure !== undefined) {
      // Until its handshake is done a TLS connection counts as not yet sniffed (see shutdown).
      // handshakeTimeout is an idle timer, which a ClientHello trickled a byte at a time never
      // trips: the sniffing deadline is absolute here too.
      const deadline = setTimeout(() => {
        if (sniffing.has(socket)) socket.destroy();
      }, sniffTimeoutMs);
      socket.once("close", () => {
        clearTimeout(deadline);
        sniffing.delete(socket);
      });
      secure.emit("connection", socket);
      return;
    }
    sniffProtocol(socket, sniffTimeoutMs).then(
      (protocol) => {
        sniffing.delete(socket);
        serve(socket, protocol);
      },
      () => {
        sniffing.delete(socket);
        socket.destroy();
      },
    );
  });
  server.maxConnections = options.maxConnections ?? limitDefaults.maxConnections;

  function listen(): Promise<ListenerAddress> {
    if (closing) return Promise.reject(new Error("the listener is closed"));
    listening ??= new Promise((resolve, reject) => {
      // http.Server starts the tracking that enforces headersTimeout and requestTimeout on
      // 'listening', which it never emits here because it never binds a port itself.
      h1.emit("listening");
      const listening = () => {
        server.off("error", reject);
        server.on("error", report);
        const { address, port } = server.address() as net.AddressInfo;
        const host = net.isIPv6(address) ? `[${address}]` : address;
        bound = { host: address, port, url: `${secure === undefined ? "http" : "https"}://${host}:${port}` };
        resolve(bound);
      };
      server.once("error", reject);
      if (options.reserved === undefined) server.listen(options.port, options.host, listening);
      else options.reserved.handOver(server).then(listening, reject);
    });
    return listening;
  }

  async function shutdown(): Promise<void> {
    closing = true;
    await listening?.catch(() => undefined);
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    // Busy HTTP/1.1 connections end after their response (see above). HTTP/2 can tell its client:
    // GOAWAY lets open streams finish, and a stream opened after it was never processed, which
    // the client knows it may retry.
    for (const res of responses) if (!res.headersSent) res.setHeader("connection", "close");
    for (const session of sessions) session.close();
    // HTTP/1.1 cannot: a request may be on its way over a connection that looks idle, or over one
    // accepted but not yet sniffed. Closing those at once would reset a request the client sent
    // (and must not resend: it may not be idempotent), so they are closed only after a grace in
    // which such a request is answered with `connection: close`.
    let idleClosed = false;
    const closeIdle = () => {
      if (idleClosed) return;
      idleClosed = true;
      for (const socket of sniffing) socket.destroy();
      h1.close();
    };
    const grace = setTimeout(closeIdle, idleGraceMs);
    const timer = setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, shutdownTimeoutMs);
    await drained;
    clearTimeout(grace);
    clearTimeout(timer);
    closeIdle();
  }

  function drain(): void {
    if (draining || closing) return;
    draining = true;
    for (const res of responses) if (!res.headersSent) res.setHeader("connection", "close");
    // GOAWAY names the last stream the session took in: those finish, later ones are refused
    // unprocessed, which the client knows it may retry (RFC 9113 §6.8).
    for (const session of sessions) session.close();
  }

  return {
    listen,
    get address() {
      return bound;
    },
    drain,
    setTlsCredentials(credentials) {
      if (secure === undefined) throw new Error("the listener serves no TLS");
      // Builds the new context first: a bad certificate or key throws here and the old context stays.
      secure.setSecureContext(secureOptions(credentials));
    },
    close() {
      closed ??= shutdown();
      return closed;
    },
  };
}
