import * as net from "node:net";
import * as tls from "node:tls";
import { limitDefaults } from "./limits.js";
import type { ProtocolServerOptions, ProtocolServers } from "./protocol-servers.js";
import { sniffProtocol } from "./sniff-protocol.js";

// http2.createServer alone answers HTTP/1.1 clients with garbage, and http.createServer cannot
// speak h2c, so a plain TCP server accepts every connection, reads its first bytes and hands it
// to the protocol server that understands them. gRPC needs HTTP/2; browsers, curl and REST
// clients mostly use HTTP/1.1; both reach the same handler on the same port. With TLS the
// handshake's ALPN (RFC 7301) names the protocol instead, and the same two servers take over the
// decrypted socket, so limits, drain and close behave alike in both modes.

/** TlsCredentials are a PEM certificate (chain) and its unencrypted PEM private key. */
export interface TlsCredentials {
  cert: string | Buffer;
  key: string | Buffer;
}

/** ConnectionOptions are the ListenerOptions of accepting a connection and telling its protocol. */
export interface ConnectionOptions extends ProtocolServerOptions {
  /**
   * tls serves TLS (1.2 or later) instead of cleartext: ALPN `h2` or `http/1.1`, a client that
   * names neither gets HTTP/1.1. Undefined: cleartext HTTP/1.1 and h2c.
   */
  tls?: TlsCredentials | undefined;
  /** sniffTimeoutMs destroys a connection that has not shown its protocol (or finished its TLS handshake) within this time. */
  sniffTimeoutMs?: number;
}

/** Connections accept every connection of one port, tell its protocol (sniffed or by ALPN) and hand it to its server. */
export interface Connections {
  /** server is the TCP server that accepts every connection; the listener binds and closes it. */
  readonly server: net.Server;
  /** scheme is the URL scheme of the port: `https` with TLS, else `http`. */
  readonly scheme: "http" | "https";
  /** beginClose destroys every later connection. */
  beginClose(): void;
  /** destroyUnsniffed destroys the connections that have not shown their protocol (or finished their TLS handshake). */
  destroyUnsniffed(): void;
  /** destroyAll destroys every open connection. */
  destroyAll(): void;
  /** setTlsCredentials makes later handshakes use `credentials`; it throws when they are unusable or there is no TLS. */
  setTlsCredentials(credentials: TlsCredentials): void;
}

// TLS 1.0 and 1.1 are deprecated (RFC 8996); Node's default floor, said here so no default can lower it.
const minTlsVersion = "TLSv1.2";

const defaultSniffTimeoutMs = 10_000;

/** createConnections returns the Connections that hand each connection to `servers`; its server is not bound. */
export function createConnections(options: ConnectionOptions, servers: ProtocolServers): Connections {
  const sniffTimeoutMs = options.sniffTimeoutMs ?? defaultSniffTimeoutMs;
  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  let closing = false;
  const report = (err: unknown): void => servers.report(err);

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
          servers.serve(socket, socket.alpnProtocol === "h2" ? "h2" : "http/1.1");
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
      // Until its handshake is done a TLS connection counts as not yet sniffed (see shutdown in
      // listener.ts). handshakeTimeout is an idle timer, which a ClientHello trickled a byte at a
      // time never trips: the sniffing deadline is absolute here too.
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
        servers.serve(socket, protocol);
      },
      () => {
        sniffing.delete(socket);
        socket.destroy();
      },
    );
  });
  server.maxConnections = options.maxConnections ?? limitDefaults.maxConnections;

  return {
    server,
    scheme: secure === undefined ? "http" : "https",
    beginClose() {
      closing = true;
    },
    destroyUnsniffed() {
      for (const socket of sniffing) socket.destroy();
    },
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
    setTlsCredentials(credentials) {
      if (secure === undefined) throw new Error("the listener serves no TLS");
      // Builds the new context first: a bad certificate or key throws here and the old context stays.
      secure.setSecureContext(secureOptions(credentials));
    },
  };
}
