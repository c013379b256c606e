import * as net from "node:net";
import type { ReservedPort } from "./reserved-port.js";
import { createConnections, type ConnectionOptions, type TlsCredentials } from "./connections.js";
import { createProtocolServers } from "./protocol-servers.js";

// The listener's lifecycle: bind the port (or take over a reserved one), drain, and close with a
// grace for idle connections and a timeout for busy ones. Accepting a connection and telling its
// protocol is connections.ts's; serving its requests, protocol-servers.ts's.

export type { TlsCredentials } from "./connections.js";
export type { RequestHandler } from "./protocol-servers.js";

/** ListenerOptions configures createListener; ListenerLimits bound what clients can hold open. */
export interface ListenerOptions extends ConnectionOptions {
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

const defaultShutdownTimeoutMs = 10_000;
// Long enough for a request already on its way, or sent in reply to the last response, to arrive.
const defaultIdleGraceMs = 500;

/** createListener returns a Listener for `options.handler`; it binds nothing until listen(). */
export function createListener(options: ListenerOptions): Listener {
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? defaultShutdownTimeoutMs;
  const idleGraceMs = Math.min(options.idleGraceMs ?? defaultIdleGraceMs, shutdownTimeoutMs);
  const servers = createProtocolServers(options);
  const connections = createConnections(options, servers);
  const { server } = connections;
  let bound: ListenerAddress | undefined;
  let listening: Promise<ListenerAddress> | undefined;
  let closed: Promise<void> | undefined;

  function listen(): Promise<ListenerAddress> {
    if (closed !== undefined) return Promise.reject(new Error("the listener is closed"));
    listening ??= new Promise((resolve, reject) => {
      servers.started();
      const listening = () => {
        server.off("error", reject);
        server.on("error", (err) => servers.report(err));
        const { address, port } = server.address() as net.AddressInfo;
        const host = net.isIPv6(address) ? `[${address}]` : address;
        bound = { host: address, port, url: `${connections.scheme}://${host}:${port}` };
        resolve(bound);
      };
      server.once("error", reject);
      if (options.reserved === undefined) server.listen(options.port, options.host, listening);
      else options.reserved.handOver(server).then(listening, reject);
    });
    return listening;
  }

  async function shutdown(): Promise<void> {
    connections.beginClose();
    servers.beginClose();
    await listening?.catch(() => undefined);
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    // Busy HTTP/1.1 connections end after their response (see protocol-servers.ts). HTTP/2 can tell
    // its client: GOAWAY lets open streams finish, and a stream opened after it was never processed,
    // which the client knows it may retry.
    servers.askToLeave();
    // HTTP/1.1 cannot: a request may be on its way over a connection that looks idle, or over one
    // accepted but not yet sniffed. Closing those at once would reset a request the client sent
    // (and must not resend: it may not be idempotent), so they are closed only after a grace in
    // which such a request is answered with `connection: close`.
    let idleClosed = false;
    const closeIdle = () => {
      if (idleClosed) return;
      idleClosed = true;
      connections.destroyUnsniffed();
      servers.closeIdle();
    };
    const grace = setTimeout(closeIdle, idleGraceMs);
    const timer = setTimeout(() => connections.destroyAll(), shutdownTimeoutMs);
    await drained;
    clearTimeout(grace);
    clearTimeout(timer);
    closeIdle();
  }

  return {
    listen,
    get address() {
      return bound;
    },
    drain() {
      servers.drain();
    },
    setTlsCredentials(credentials) {
      connections.setTlsCredentials(credentials);
    },
    close() {
      closed ??= shutdown();
      return closed;
    },
  };
}
