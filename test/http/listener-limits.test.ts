import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createListener, type Listener, type ListenerOptions, type RequestHandler } from "../../src/http/listener.js";

// Stalled and trickling requests against a real listener with short limits: each must end by the
// request deadline, whatever the protocol, and none may hold close() past shutdownTimeoutMs.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/** bodies records how each request body read ended: its text, or "failed: <reason>". */
const bodies: string[] = [];
/** errors collects what the listener reports. */
const errors: unknown[] = [];
let arrived = 0;

/** handler reads the body and answers 200 with it; `/hang` never answers, `/half` stops midway. */
const handler: RequestHandler = (req, res) => {
  arrived++;
  if (req.url === "/hang") return;
  if (req.url === "/half") {
    res.writeHead(200, { "content-type": "text/plain" });
    (res as http.ServerResponse).write("partial");
    return;
  }
  if (req.url === "/slow") {
    setTimeout(() => res.end("slow"), 300);
    return;
  }
  void (async () => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    } catch (err) {
      bodies.push(`failed: ${(err as Error).message}`);
      return;
    }
    bodies.push(Buffer.concat(chunks).toString());
    (res as http2.Http2ServerResponse).end(`got ${Buffer.concat(chunks).length}`);
  })();
};

let listener: Listener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
  bodies.length = 0;
  errors.length = 0;
  arrived = 0;
});

async function start(overrides: Partial<ListenerOptions> = {}): Promise<{ url: string; port: number }> {
  listener = createListener({
    handler,
    host: "127.0.0.1",
    port: 0,
    requestTimeoutMs: 300,
    shutdownTimeoutMs: 200,
    onError: (err) => errors.push(err),
    ...overrides,
  });
  return listener.listen();
}

interface H2Outcome {
  status: number;
  body: string;
  rstCode: number | undefined;
  ms: number;
}

/** h2Request sends one request, then `body` pieces `every` ms apart, ending it only if `end`. */
function h2Request(url: string, path: string, body: string[] = [], every = 0, end = false): Promise<H2Outcome> {
  const session = http2.connect(url);
  session.on("error", () => {});
  const started = Date.now();
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": path });
    let status = 0;
    let text = "";
    stream.setEncoding("utf8");
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (chunk: string) => (text += chunk));
    stream.on("error", () => {});
    // Once the response is in and the server has closed the stream (a 408 then RST_STREAM
    // NO_ERROR, RFC 9113 §8.1), the client is done with it. Node keeps such a stream open, without
    // 'close', while a write of the client's own is still pending: release it as a client would.
    stream.on("end", function settle() {
      if (stream.destroyed) return;
      if (stream.closed) stream.destroy();
      else setTimeout(settle, 10);
    });
    stream.on("close", () => {
      session.close();
      resolve({ status, body: text, rstCode: stream.rstCode, ms: Date.now() - started });
    });
    void (async () => {
      for (const piece of body) {
        if (stream.closed) return;
        stream.write(piece);
        await sleep(every);
      }
      if (end && !stream.closed) stream.end();
    })();
  });
}

/** raw writes `head`, then `drip` bytes `every` ms apart, and returns the reply and its timing. */
function raw(port: number, head: string, drip = 0, every = 100): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", () => {});
    socket.on("close", () => resolve({ text, ms: Date.now() - started }));
    socket.write(head);
    void (async () => {
      for (let i = 0; i < drip && !socket.destroyed; i++) {
        await sleep(every);
        if (!socket.destroyed) socket.write("x");
      }
    })();
  });
}

const postHead = (path: string, length: number) => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\n\r\n`;

describe("listener request deadline", () => {
  it("answers 408 to an HTTP/2 request whose body never finishes, and fails its reader", async () => {
    const { url } = await start();
    const out = await h2Request(url, "/body", ["abc"]);
    expect(out.status).toBe(408);
    expect(out.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(out.ms).toBeGreaterThanOrEqual(250);
    expect(out.ms).toBeLessThan(1_500);
    await sleep(20);
    // Not "abc": a body cut off by the deadline must not read as a complete one.
    expect(bodies).toEqual([expect.stringMatching(/^failed: /)]);
  });

  it("cuts an HTTP/2 body trickling a byte every 100 ms at the absolute deadline", async () => {
    const { url } = await start();
    const out = await h2Request(
      url,
      "/body",
      Array.from({ length: 50 }, () => "x"),
      100,
    );
    expect(out.status).toBe(408);
    expect(out.ms).toBeLessThan(1_000);
  });

  it("answers 408 to a complete request its handler never answers, over either protocol", async () => {
    const { url, port } = await start();
    const h2 = await h2Request(url, "/hang", [], 0, true);
    expect([h2.status, h2.rstCode]).toEqual([408, http2.constants.NGHTTP2_NO_ERROR]);
    const h1 = await raw(port, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(h1.text).toMatch(/^HTTP\/1\.1 408 /);
    expect([h2.ms, h1.ms].every((ms) => ms < 1_000)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("resets an HTTP/2 stream whose response started but never finished", async () => {
    const { url } = await start();
    const out = await h2Request(url, "/half", [], 0, true);
    expect([out.status, out.body, out.rstCode]).toEqual([200, "partial", http2.constants.NGHTTP2_CANCEL]);
    expect(out.ms).toBeLessThan(1_500);
  });

  it("answers 408 to a stalled or trickling HTTP/1.1 body and closes the connection", async () => {
    const { port } = await start();
    const stalled = await raw(port, `${postHead("/body", 100)}abc`);
    expect(stalled.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(stalled.text.toLowerCase()).toContain("connection: close");
    expect(stalled.ms).toBeLessThan(1_000);
    const trickled = await raw(port, postHead("/body", 100), 50, 100);
    expect(trickled.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(trickled.ms).toBeLessThan(1_000);
    const half = await raw(port, postHead("/half", 0));
    expect(half.text).toMatch(/^HTTP\/1\.1 200 [^]*partial/);
    expect(half.ms).toBeLessThan(1_000);
  });

  it("leaves requests that finish in time alone, and disarms the deadline once they have", async () => {
    const { url } = await start({ requestTimeoutMs: 500 });
    const slow = await h2Request(url, "/slow", [], 0, true);
    expect([slow.status, slow.body]).toEqual([200, "slow"]);
    const posted = await h2Request(url, "/body", ["a", "b", "c"], 50, true);
    expect([posted.status, posted.body]).toEqual([200, "got 3"]);
    // Two requests on one keep-alive connection, the second after the first one's deadline.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await fetchVia(agent, url, "/slow");
      await sleep(600);
      const second = await fetchVia(agent, url, "/slow");
      expect([first.status, second.status, second.body]).toEqual([200, 200, "slow"]);
      expect(second.port).toBe(first.port);
    } finally {
      agent.destroy();
    }
  });
});

function fetchVia(agent: http.Agent, url: string, path: string) {
  return new Promise<{ status: number; body: string; port: number }>((resolve, reject) => {
    http
      .get(`${url}${path}`, { agent }, (res) => {
        let body = "";
        const port = res.socket.localPort ?? 0;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, port }));
      })
      .on("error", reject);
  });
}

/** frame encodes one HTTP/2 frame. */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** frames decodes the complete HTTP/2 frames in `bytes`. */
function frames(bytes: Buffer): Array<{ type: number; streamId: number; payload: Buffer }> {
  const out: Array<{ type: number; streamId: number; payload: Buffer }> = [];
  for (let at = 0; at + 9 <= bytes.length;) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) break;
    out.push({ type: bytes[at + 3]!, streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff, payload: bytes.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return out;
}

describe("listener HTTP/2 stream limit", () => {
  it("advertises SETTINGS_MAX_CONCURRENT_STREAMS 100, or the configured value", async () => {
    for (const [overrides, expected] of [
      [{}, 100],
      [{ maxConcurrentStreams: 7 }, 7],
    ] as const) {
      const { url } = await start(overrides);
      const session = http2.connect(url);
      const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
      session.close();
      expect(settings.maxConcurrentStreams).toBe(expected);
      await listener?.close();
    }
  });

  it("refuses a 101st concurrent stream from a client that ignores the limit", async () => {
    const { port } = await start({ requestTimeoutMs: 5_000 });
    // :method GET, :scheme http, :path /hang, :authority x: HPACK, no indexing.
    const block = Buffer.from([0x82, 0x86, 0x04, 0x05, ...Buffer.from("/hang"), 0x01, 0x01, 0x78]);
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const streams = Array.from({ length: 101 }, (_, i) => 2 * i + 1);
    // END_HEADERS | END_STREAM; the SETTINGS is not acknowledged, so the server's limit is pending.
    socket.write(Buffer.concat([Buffer.from(preface), frame(4, 0, 0), ...streams.map((id) => frame(1, 0x5, id, block))]));
    const refused = () =>
      frames(received).some((f) => f.type === 3 && f.streamId === 201 && f.payload.readUInt32BE(0) === http2.constants.NGHTTP2_REFUSED_STREAM);
    for (let waited = 0; waited < 2_000 && !(refused() && arrived >= 100); waited += 20) await sleep(20);
    await sleep(100);
    // RST_STREAM REFUSED_STREAM for stream 201, the 101st; the first 100 reached the handler.
    expect(refused()).toBe(true);
    expect(arrived).toBe(100);
    socket.destroy();
  });
});

describe("listener connection limits and shutdown", () => {
  it("drops connections beyond maxConnections", async () => {
    const { port } = await start({ maxConnections: 2 });
    const open = [net.connect(port, "127.0.0.1"), net.connect(port, "127.0.0.1")];
    await Promise.all(open.map((s) => new Promise((r) => s.once("connect", r))));
    await sleep(50);
    const third = await raw(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(third.text).toBe("");
    expect(third.ms).toBeLessThan(500);
    expect(open.map((s) => s.destroyed)).toEqual([false, false]);
    for (const s of open) s.destroy();
  });

  it("close() waits at most shutdownTimeoutMs for a stalled HTTP/2 stream", async () => {
    const { url } = await start({ requestTimeoutMs: 60_000, shutdownTimeoutMs: 200 });
    const stalled = h2Request(url, "/body", ["abc"]);
    while (arrived < 1) await sleep(5);
    const started = Date.now();
    await listener?.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(1_000);
    expect((await stalled).status).toBe(0);
  });
});
