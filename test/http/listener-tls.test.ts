import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";
import * as tls from "node:tls";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { createListener, type Listener } from "../../src/http/listener.js";
import { makeCertificate, type TestCertificate } from "../support/tls-certificate.js";

// The listener with TLS: a real certificate made at test time, real clients of each protocol.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);

// Requests the fallback has seen: a test waits for one to arrive before it acts.
let arrivals = 0;
const handler = connectNodeAdapter({
  routes: (router) => router.service(TokenService, { validateToken: () => ({ valid: false, reason: "x" }) }),
  fallback: (req, res) => {
    arrivals++;
    const delay = req.url === "/slow" ? 300 : 0;
    setTimeout(() => (res as http.ServerResponse).end(JSON.stringify({ url: req.url, httpVersion: req.httpVersion })), delay);
  },
});

/** handshake connects with `options` and resolves the negotiated protocol, version and certificate, or the error code. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<{ alpn: string | false; version: string | null; fingerprint: string } | string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ...options }, () => {
      resolve({ alpn: socket.alpnProtocol ?? false, version: socket.getProtocol(), fingerprint: socket.getPeerCertificate().fingerprint256 });
      socket.destroy();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** httpsGet sends one HTTP/1.1 GET over TLS, trusting `ca`. */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

/** h2Get sends one GET on `session` and resolves its body. */
function h2Get(session: http2.ClientHttp2Session, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve(body));
    stream.on("error", reject);
  });
}

let first: TestCertificate;
let second: TestCertificate;
let listener: Listener;
let url: string;
let port: number;
const errors: unknown[] = [];

beforeAll(async () => {
  [first, second] = await Promise.all([makeCertificate("first"), makeCertificate("second")]);
  listener = createListener({ handler, host: "127.0.0.1", port: 0, tls: first, onError: (err) => errors.push(err) });
  ({ url, port } = await listener.listen());
});
afterAll(() => listener.close());

describe("createListener with tls", () => {
  it("reports an https URL", () => {
    expect(url).toBe(`https://127.0.0.1:${port}`);
  });

  it("refuses TLS 1.1 with a protocol_version alert and accepts TLS 1.2 and 1.3", async () => {
    // The client's own floor is lowered, so the refusal is the server's.
    const old = await handshake(port, { ca: first.cert, minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" });
    expect(old).toBe("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
    expect(await handshake(port, { ca: first.cert, maxVersion: "TLSv1.2" })).toMatchObject({ version: "TLSv1.2" });
    expect(await handshake(port, { ca: first.cert })).toMatchObject({ version: "TLSv1.3" });
  });

  it("offers h2 and http/1.1 by ALPN, and serves HTTP/1.1 to a client that names none", async () => {
    expect(await handshake(port, { ca: first.cert, ALPNProtocols: ["h2", "http/1.1"] })).toMatchObject({ alpn: "h2" });
    expect(await handshake(port, { ca: first.cert, ALPNProtocols: ["http/1.1"] })).toMatchObject({ alpn: "http/1.1" });
    expect(await handshake(port, { ca: first.cert })).toMatchObject({ alpn: false });
    // node's https client names no ALPN protocol: HTTP/1.1.
    const h1 = await httpsGet(`https://localhost:${port}/one`, first.cert);
    expect(JSON.parse(h1.body)).toEqual({ url: "/one", httpVersion: "1.1" });
    const session = http2.connect(`https://localhost:${port}`, { ca: first.cert });
    try {
      expect(JSON.parse(await h2Get(session, "/two"))).toEqual({ url: "/two", httpVersion: "2.0" });
    } finally {
      session.close();
    }
  });

  it("answers curl over HTTPS: h2 by ALPN, or HTTP/1.1 when it asks for it", async () => {
    const h2 = await run("/usr/bin/curl", ["-sS", "--cacert", first.certFile, `https://localhost:${port}/curl`]);
    expect(JSON.parse(h2.stdout)).toEqual({ url: "/curl", httpVersion: "2.0" });
    const h1 = await run("/usr/bin/curl", ["-sS", "--http1.1", "--cacert", first.certFile, `https://localhost:${port}/curl1`]);
    expect(JSON.parse(h1.stdout)).toEqual({ url: "/curl1", httpVersion: "1.1" });
  });

  it("routes Connect, gRPC and gRPC-Web calls over TLS", async () => {
    const baseUrl = `https://localhost:${port}`;
    const nodeOptions = { ca: first.cert };
    const sessionManager = new Http2SessionManager(baseUrl, undefined, nodeOptions);
    const transports = [
      createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions }),
      createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions }),
      createGrpcTransport({ baseUrl, sessionManager }),
      createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions }),
    ];
    try {
      for (const transport of transports) {
        const res = await createClient(TokenService, transport).validateToken({ token: "t" });
        expect([res.valid, res.reason]).toEqual([false, "x"]);
      }
    } finally {
      sessionManager.abort();
    }
  });

  it("survives a cleartext client on the TLS port and reports its handshake error", async () => {
    errors.length = 0;
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
      let text = "";
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("error", () => {});
      socket.on("close", () => resolve(text));
    });
    expect(reply).not.toContain("HTTP/1.1 200");
    expect(errors.length).toBeGreaterThan(0);
    expect((await httpsGet(`https://localhost:${port}/after`, first.cert)).status).toBe(200);
  });

  it("swaps the certificate for new connections while an open HTTP/2 connection keeps working", async () => {
    const fingerprint = (cert: string) => new X509Certificate(cert).fingerprint256;
    const session = http2.connect(`https://localhost:${port}`, { ca: [first.cert, second.cert] });
    try {
      await h2Get(session, "/before");
      listener.setTlsCredentials(second);
      expect(await handshake(port, { ca: second.cert })).toMatchObject({ fingerprint: fingerprint(second.cert) });
      // The session opened before the swap still serves streams, on the same connection.
      expect(JSON.parse(await h2Get(session, "/during"))).toEqual({ url: "/during", httpVersion: "2.0" });
      expect(session.closed || session.destroyed).toBe(false);

      // Unusable credentials throw, and the certificate in use stays.
      expect(() => listener.setTlsCredentials({ cert: first.cert, key: second.key })).toThrow();
      expect(() => listener.setTlsCredentials({ cert: "not a certificate", key: second.key })).toThrow();
      expect(await handshake(port, { ca: second.cert })).toMatchObject({ fingerprint: fingerprint(second.cert) });
    } finally {
      session.close();
      listener.setTlsCredentials(first);
    }
  });

  it("finishes an in-flight HTTP/2 request over TLS on close, and drops a connection that never shakes hands after the grace", async () => {
    // A minute's shutdown bound: close() resolves in time only if the grace, not the bound, ended the silent one.
    const own = createListener({ handler, host: "127.0.0.1", port: 0, tls: first, idleGraceMs: 100, shutdownTimeoutMs: 60_000 });
    const { port: ownPort } = await own.listen();
    const silent = net.connect(ownPort, "127.0.0.1");
    const silentClosed = new Promise<void>((resolve) => silent.on("close", () => resolve()));
    silent.on("error", () => {});
    const session = http2.connect(`https://localhost:${ownPort}`, { ca: first.cert });
    session.on("error", () => {});
    await h2Get(session, "/warm");
    const before = arrivals;
    const slow = h2Get(session, "/slow");
    while (arrivals === before) await sleep(5);
    await own.close();
    // The in-flight request outlived the 100 ms grace: its connection was not taken for an unsniffed one.
    expect(JSON.parse(await slow)).toEqual({ url: "/slow", httpVersion: "2.0" });
    await silentClosed;
  });

  it("asks clients of both protocols to leave on drain(), over TLS as in cleartext", async () => {
    const own = createListener({ handler, host: "127.0.0.1", port: 0, tls: first });
    const { port: ownPort } = await own.listen();
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: first.cert });
    const get = (path: string) =>
      new Promise<{ connection: string | undefined; reused: boolean }>((resolve, reject) => {
        const req = https.get({ host: "localhost", port: ownPort, path, agent }, (res) => {
          res.resume();
          res.on("end", () => resolve({ connection: res.headers.connection, reused: req.reusedSocket }));
        });
        req.on("error", reject);
      });
    const session = http2.connect(`https://localhost:${ownPort}`, { ca: first.cert });
    const goaway = new Promise<number>((resolve) => session.once("goaway", (_code: number, lastStreamId: number) => resolve(lastStreamId)));
    try {
      expect(await get("/first")).toEqual({ connection: "keep-alive", reused: false });
      const before = arrivals;
      const inFlight = h2Get(session, "/slow");
      while (arrivals === before) await sleep(5);
      own.drain();
      // The open stream finishes; the session is told to go, naming the stream it took in.
      expect(JSON.parse(await inFlight)).toEqual({ url: "/slow", httpVersion: "2.0" });
      expect(await goaway).toBe(1);
      // The kept-alive connection is answered once more, with connection: close.
      expect(await get("/second")).toEqual({ connection: "close", reused: true });
    } finally {
      session.destroy();
      agent.destroy();
      await own.close();
    }
  });

  it("drops a connection whose handshake trickles in a byte at a time, at the sniffing deadline", async () => {
    const own = createListener({ handler, host: "127.0.0.1", port: 0, tls: first, sniffTimeoutMs: 300 });
    const { port: ownPort } = await own.listen();
    const socket = net.connect(ownPort, "127.0.0.1");
    socket.on("error", () => {});
    // A TLS handshake record's header and the start of a ClientHello, one byte every 50 ms: never
    // idle for the 300 ms an idle timer would need, so only an absolute deadline ends it.
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...Array<number>(500).fill(1)]);
    let sent = 0;
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write(hello.subarray(sent, ++sent));
    }, 50);
    try {
      await new Promise((resolve) => socket.on("close", resolve));
      expect(sent).toBeLessThan(hello.length);
    } finally {
      clearInterval(trickle);
      await own.close();
    }
  });

  it("refuses to set TLS credentials on a cleartext listener", () => {
    const plain = createListener({ handler, host: "127.0.0.1", port: 0 });
    expect(() => plain.setTlsCredentials(first)).toThrow(/no TLS/);
  });
});
