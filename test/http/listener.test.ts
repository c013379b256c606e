import { execFile } from "node:child_process";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { createListener, type Listener, type RequestHandler } from "../../src/http/listener.js";
import { classifyPreface } from "../../src/http/sniff-protocol.js";

// A real listener on a free port, driven by real clients of both protocols.

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

interface Echo {
  method: string;
  url: string;
  httpVersion: string;
  remotePort: number;
}

/** echo answers with what it saw; `/slow` after 300 ms, `/hang` never. */
function echo(onArrive: (url: string) => void = () => {}): RequestHandler {
  return (req, res) => {
    onArrive(req.url ?? "");
    if (req.url === "/hang") return;
    const body: Echo = { method: req.method ?? "", url: req.url ?? "", httpVersion: req.httpVersion, remotePort: req.socket.remotePort ?? 0 };
    setTimeout(
      () => {
        res.setHeader("content-type", "application/json");
        (res as http.ServerResponse).end(JSON.stringify(body));
      },
      req.url === "/slow" ? 300 : 0,
    );
  };
}

const routes = connectNodeAdapter({
  routes: (router) => router.service(TokenService, { validateToken: () => ({ valid: false, reason: "x" }) }),
  fallback: (req, res) => echo()(req, res as http.ServerResponse),
});

/** h2Get sends one GET per path as concurrent streams of one session. */
async function h2Get(url: string, paths: string[]): Promise<Array<{ status: number; body: Echo }>> {
  const session = http2.connect(url);
  try {
    return await Promise.all(
      paths.map(
        (path) =>
          new Promise<{ status: number; body: Echo }>((resolve, reject) => {
            const stream = session.request({ ":path": path });
            let status = 0;
            let text = "";
            stream.setEncoding("utf8");
            stream.on("response", (headers) => (status = Number(headers[":status"])));
            stream.on("data", (chunk: string) => (text += chunk));
            stream.on("end", () => {
              try {
                resolve({ status, body: JSON.parse(text) as Echo });
              } catch (err) {
                reject(err instanceof Error ? err : new Error(String(err)));
              }
            });
            stream.on("error", reject);
          }),
      ),
    );
  } finally {
    session.close();
  }
}

/** agentGet sends GETs one after the other through one keep-alive socket. */
async function agentGet(url: string, paths: string[]): Promise<Echo[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: Echo[] = [];
  for (const path of paths) {
    out.push(
      await new Promise<Echo>((resolve, reject) => {
        http
          .get(`${url}${path}`, { agent }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (text += chunk));
            res.on("end", () => resolve(JSON.parse(text) as Echo));
          })
          .on("error", reject);
      }),
    );
  }
  agent.destroy();
  return out;
}

/** raw writes `chunks` to a fresh connection (pausing between them) and returns what came back. */
function raw(port: number, chunks: Array<string | Buffer>, end = true): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", () => {}); // the server may reset a bad client; the close below still fires
    socket.on("close", () => resolve(text));
    void (async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        await sleep(20);
      }
      if (end) socket.end();
    })();
  });
}

/** dial resolves "connected" or the connect error code. */
function dial(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** waitFor polls `check` every 5 ms; after `timeoutMs` it throws. */
async function waitFor(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !check(); await sleep(5)) if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms`);
}

/** slowProxy forwards to `port`, splitting the first bytes the client sends into pieces. */
async function slowProxy(port: number): Promise<{ url: string; close: () => void }> {
  const proxy = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    upstream.setNoDelay(true);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.once("data", (first: Buffer) => {
      client.pause();
      void (async () => {
        for (const [from, to] of [
          [0, 3],
          [3, 10],
          [10, first.length],
        ] as const) {
          upstream.write(first.subarray(from, to));
          await sleep(20);
        }
        client.pipe(upstream);
        client.resume();
      })();
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const { port: proxyPort } = proxy.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${proxyPort}`, close: () => proxy.close() };
}

describe("classifyPreface", () => {
  it("waits on a prefix of the HTTP/2 preface and decides on anything else", () => {
    expect(classifyPreface(Buffer.from("PRI * HT"))).toBeUndefined();
    expect(classifyPreface(Buffer.from(preface))).toBe("h2");
    expect(classifyPreface(Buffer.from(`${preface}\0\0\0\x04`))).toBe("h2");
    expect(classifyPreface(Buffer.from("POST / HTTP/1.1"))).toBe("http/1.1");
    expect(classifyPreface(Buffer.from("PRI * HTTP/1.1\r\n"))).toBe("http/1.1");
  });
});

describe("listener", () => {
  let listener: Listener;
  let url: string;
  let port: number;
  const errors: unknown[] = [];

  beforeAll(async () => {
    listener = createListener({ handler: routes, host: "127.0.0.1", port: 0, onError: (err) => errors.push(err) });
    ({ url, port } = await listener.listen());
  });
  afterAll(() => listener.close());

  it("reports where it is bound", () => {
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(listener.address).toEqual({ host: "127.0.0.1", port, url });
  });

  it("serves HTTP/1.1 and reuses a keep-alive connection", async () => {
    const res = await fetch(`${url}/one?x=1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ method: "GET", url: "/one?x=1", httpVersion: "1.1" });
    const [a, b, c] = await agentGet(url, ["/a", "/b", "/c"]);
    expect(a?.remotePort).toBeGreaterThan(0);
    expect([b?.remotePort, c?.remotePort]).toEqual([a?.remotePort, a?.remotePort]);
  });

  it("serves HTTP/2 with prior knowledge, several streams on one session", async () => {
    const results = await h2Get(url, ["/s1", "/s2", "/slow", "/s3"]);
    expect(results.map((r) => [r.status, r.body.url, r.body.httpVersion])).toEqual([
      [200, "/s1", "2.0"],
      [200, "/s2", "2.0"],
      [200, "/slow", "2.0"],
      [200, "/s3", "2.0"],
    ]);
    expect(new Set(results.map((r) => r.body.remotePort)).size).toBe(1);
  });

  it("routes Connect, gRPC and gRPC-Web calls over both protocols", async () => {
    const sessionManager = new Http2SessionManager(url);
    const transports = [
      createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl: url, httpVersion: "2" }),
      createGrpcTransport({ baseUrl: url, sessionManager }),
      createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
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

  it("answers curl with and without --http2-prior-knowledge", async () => {
    const h1 = await run("/usr/bin/curl", ["-sS", `${url}/curl`]);
    expect(JSON.parse(h1.stdout)).toMatchObject({ url: "/curl", httpVersion: "1.1" });
    const h2 = await run("/usr/bin/curl", ["-sS", "--http2-prior-knowledge", `${url}/curl2`]);
    expect(JSON.parse(h2.stdout)).toMatchObject({ url: "/curl2", httpVersion: "2.0" });
  });

  it("decides the protocol when the first bytes arrive in pieces", async () => {
    const text = await raw(port, ["P", "OST /split HTTP/1.1\r\nHost: x\r\n", "Content-Length: 2\r\nConnection: close\r\n\r\nhi"]);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain('"method":"POST","url":"/split"');
    const proxy = await slowProxy(port);
    try {
      const [res] = await h2Get(proxy.url, ["/split2"]);
      expect(res?.body).toMatchObject({ url: "/split2", httpVersion: "2.0" });
    } finally {
      proxy.close();
    }
  });

  it("survives garbage, half prefaces and broken HTTP/2 and keeps serving", async () => {
    expect(await raw(port, [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])])).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(port, ["PRI * HTTP/2.0\r\n"])).toBe("");
    expect(await raw(port, ["PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"])).toMatch(/^HTTP\/1\.1 400/);
    await raw(port, [preface, Buffer.alloc(64, 0xff)]);
    const [res] = await h2Get(url, ["/after"]);
    expect(res?.status).toBe(200);
    expect((await fetch(`${url}/after`)).status).toBe(200);
    // Reported for the logs, never thrown: the process and the listener stay up.
    expect(errors.some((err) => (err as { code?: string }).code === "HPE_INVALID_METHOD")).toBe(true);
  });
});

describe("listener handler failures", () => {
  it("answers 500 for a handler that throws or rejects, and reports the error", async () => {
    const errors: unknown[] = [];
    const listener = createListener({
      handler: (req) => {
        if (req.url === "/throw") throw new Error("sync boom");
        return Promise.reject(new Error("async boom")) as unknown as void;
      },
      host: "127.0.0.1",
      port: 0,
      onError: (err) => {
        errors.push(err);
        throw new Error("a broken logger is not fatal either");
      },
    });
    const { url } = await listener.listen();
    try {
      expect((await fetch(`${url}/throw`)).status).toBe(500);
      expect((await fetch(`${url}/reject`)).status).toBe(500);
      const session = http2.connect(url);
      const status = await new Promise((resolve) =>
        session
          .request({ ":path": "/throw" })
          .on("response", (h) => resolve(h[":status"]))
          .resume(),
      );
      session.close();
      expect(status).toBe(500);
      expect(errors.map((err) => (err as Error).message)).toEqual(["sync boom", "async boom", "sync boom"]);
    } finally {
      await listener.close();
    }
  });
});

describe("listener shutdown", () => {
  it("destroys a connection that does not show its protocol in time", async () => {
    const listener = createListener({ handler: echo(), host: "127.0.0.1", port: 0, sniffTimeoutMs: 100 });
    const { port } = await listener.listen();
    const started = Date.now();
    expect(await raw(port, [], false)).toBe("");
    expect(await raw(port, ["PRI * HTTP/2.0\r\n"], false)).toBe("");
    expect(Date.now() - started).toBeLessThan(2_000);
    await listener.close();
  });

  it("finishes in-flight requests of both protocols, refuses new connections, then resolves", async () => {
    let arrived = 0;
    const listener = createListener({ handler: echo(() => arrived++), host: "127.0.0.1", port: 0 });
    const { url, port } = await listener.listen();
    await agentGet(url, ["/warm"]);
    arrived = 0;
    const h1 = fetch(`${url}/slow`);
    const h2 = h2Get(url, ["/slow", "/slow"]);
    while (arrived < 3) await sleep(5);

    const started = Date.now();
    const closing = listener.close();
    expect(listener.close()).toBe(closing);
    expect(await dial(port)).toBe("ECONNREFUSED");
    const res = await h1;
    expect(res.status).toBe(200);
    expect(res.headers.get("connection")).toBe("close");
    expect(await res.json()).toMatchObject({ url: "/slow", httpVersion: "1.1" });
    expect((await h2).map((r) => [r.status, r.body.httpVersion])).toEqual([
      [200, "2.0"],
      [200, "2.0"],
    ]);
    await closing;
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(listener.listen()).rejects.toThrow(/closed/);
  });

  it("closes HTTP/2 sessions at once and idle keep-alive connections after the idle grace", async () => {
    const listener = createListener({ handler: echo(), host: "127.0.0.1", port: 0 });
    const { url } = await listener.listen();
    const agent = new http.Agent({ keepAlive: true });
    // The answer read whole before the close: the connection is idle then, not in flight (a busy
    // machine once took longer than a fixed 20 ms, and an in-flight request is answered with
    // `connection: close` at once).
    let answered!: () => void;
    const idle = new Promise<void>((resolve) => (answered = resolve));
    const socketClosed = new Promise((resolve) => {
      http.get(`${url}/idle`, { agent }, (res) => {
        res.socket.once("close", () => resolve(Date.now()));
        res.once("end", () => setImmediate(answered));
        res.resume();
      });
    });
    await idle;
    const session = http2.connect(url);
    await new Promise((resolve) => session.once("remoteSettings", resolve));
    const sessionClosed = new Promise((resolve) => session.once("close", () => resolve(Date.now())));
    const started = Date.now();
    await listener.close();
    expect((await sessionClosed) as number).toBeLessThan(started + 300);
    // The default grace is 500 ms: the closing connection was given it, then closed.
    expect((await socketClosed) as number).toBeGreaterThanOrEqual(started + 400);
    expect(Date.now() - started).toBeLessThan(1_000);
    agent.destroy();
  });

  it("answers, with connection: close, a request sent on an idle keep-alive connection as close() begins", async () => {
    const listener = createListener({ handler: echo(), host: "127.0.0.1", port: 0, idleGraceMs: 2_000 });
    const { port } = await listener.listen();
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    const ended = new Promise((resolve) => socket.once("close", resolve));
    socket.write("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    while (!text.includes("/first")) await sleep(5);
    expect(text).toMatch(/keep-alive/i);
    // The connection is idle; the client sends its next request while the server begins to close.
    const started = Date.now();
    const closing = listener.close();
    socket.write("POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    await ended;
    await closing;
    const second = text.slice(text.indexOf("HTTP/1.1", 1));
    expect(second).toMatch(/^HTTP\/1\.1 200/);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    expect(second).toContain('"url":"/second"');
    // Answered, the connection closed at once, without waiting out the grace.
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("answers a connection accepted before close() that sends its request after", async () => {
    const listener = createListener({ handler: echo(), host: "127.0.0.1", port: 0 });
    const { port } = await listener.listen();
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    const ended = new Promise((resolve) => socket.once("close", resolve));
    await new Promise((resolve) => socket.once("connect", resolve));
    await sleep(50); // the listener has accepted it and waits for its first bytes
    const closing = listener.close();
    await sleep(20);
    expect(await dial(port)).toBe("ECONNREFUSED");
    socket.write("GET /late HTTP/1.1\r\nHost: x\r\n\r\n");
    await ended;
    await closing;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    expect(text).toContain('"url":"/late"');
  });

  it("destroys requests still running after shutdownTimeoutMs", async () => {
    const errors: unknown[] = [];
    const listener = createListener({
      handler: echo(),
      host: "127.0.0.1",
      port: 0,
      shutdownTimeoutMs: 200,
      onError: (err) => errors.push(err),
    });
    const { url } = await listener.listen();
    const hung = fetch(`${url}/hang`).then(
      () => "answered",
      () => "failed",
    );
    const hungH2 = h2Get(url, ["/hang"]).then(
      () => "answered",
      () => "failed",
    );
    await sleep(50);
    const started = Date.now();
    await listener.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect([await hung, await hungH2]).toEqual(["failed", "failed"]);
  });
});

describe("listener drain", () => {
  /** h2Session opens a session and records the GOAWAY frames it receives. */
  async function h2Session(url: string) {
    const session = http2.connect(url);
    const goaways: number[] = [];
    session.on("goaway", (_code: number, lastStreamId: number) => goaways.push(lastStreamId));
    session.on("error", () => {});
    await new Promise((resolve) => session.once("remoteSettings", resolve));
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({ ":path": path });
        stream.on("response", (headers) => resolve(Number(headers[":status"])));
        stream.on("error", reject);
        stream.resume();
      });
    return { session, goaways, get };
  }

  it("keeps accepting and serving while it asks every client to leave, then close() stops", async () => {
    let arrived = 0;
    const listener = createListener({ handler: echo(() => arrived++), host: "127.0.0.1", port: 0 });
    const { url, port } = await listener.listen();
    // An HTTP/1.1 keep-alive connection and an HTTP/2 session with a stream in flight.
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    const socketEnded = new Promise((resolve) => socket.once("close", resolve));
    socket.write("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    while (!text.includes("/first")) await sleep(5);
    expect(text).toMatch(/keep-alive/i);
    const before = await h2Session(url);
    const inFlight = before.get("/slow");
    while (arrived < 2) await sleep(5);

    listener.drain();
    // The open stream finishes; the session is told to go (GOAWAY naming the stream it took in).
    expect(await inFlight).toBe(200);
    expect(before.goaways).toEqual([1]);
    // The kept-alive connection is answered once more, with connection: close, then closed.
    socket.write("GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
    await socketEnded;
    const second = text.slice(text.indexOf("HTTP/1.1", 1));
    expect(second).toMatch(/^HTTP\/1\.1 200/);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    // New connections are still accepted and served, each once.
    expect(await dial(port)).toBe("connected");
    const fresh = await fetch(`${url}/fresh`);
    expect([fresh.status, fresh.headers.get("connection")]).toEqual([200, "close"]);
    const during = await h2Session(url);
    expect(await during.get("/during")).toBe(200);
    await waitFor(() => during.goaways.length > 0);
    expect(during.goaways).toEqual([1]);

    await listener.close();
    expect(await dial(port)).toBe("ECONNREFUSED");
    for (const { session } of [before, during]) session.destroy();
  });
});
