import * as http2 from "node:http2";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM2MServer, type M2MServer } from "../../src/server.js";
import { createMemoryStore } from "../../src/store/memory-store.js";

// HTTP/2 rapid reset (CVE-2023-44487): a client opens streams and cancels each at once, so the
// stream limit never binds while the server does the work of every request. The session that does
// it is ended (nghttp2's reset budget, which node enforces); other clients keep being served.

let server: M2MServer;
let url: string;

beforeAll(async () => {
  server = await createM2MServer({
    host: "127.0.0.1",
    port: 0,
    issuer: "http://m2m-auth.test",
    signingAlg: "ES256",
    store: createMemoryStore(),
    logger: pino({ level: "silent" }),
  });
  ({ url } = await server.listen());
});
afterAll(() => server.close());

describe("HTTP/2 rapid reset", () => {
  it("ends the session that resets streams in a burst, and keeps serving others", async () => {
    const attacker = http2.connect(url);
    attacker.on("error", () => {});
    const ended = new Promise<string>((resolve) => {
      attacker.on("goaway", (code: number) => resolve(`goaway ${code}`));
      attacker.on("close", () => resolve("close"));
    });
    await new Promise<void>((resolve) => attacker.once("connect", () => resolve()));
    let opened = 0;
    // 20,000 streams, each cancelled as soon as it is sent: far past any reset budget.
    for (let i = 0; i < 20_000 && !attacker.closed && !attacker.destroyed; i++) {
      try {
        const stream = attacker.request({ ":path": "/.well-known/openid-configuration" });
        stream.on("error", () => {});
        stream.close(http2.constants.NGHTTP2_CANCEL);
        opened++;
      } catch {
        break;
      }
      if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
    }
    const outcome = await Promise.race([ended, new Promise<string>((resolve) => setTimeout(() => resolve("still open"), 5000))]);
    attacker.destroy();
    // The server said GOAWAY long before the burst was over (1,500 streams in the last run).
    expect(outcome, `after ${opened} cancelled streams`).toMatch(/^goaway/);
    expect(opened).toBeLessThan(20_000);

    const other = await fetch(`${url}/healthz`);
    expect(other.status).toBe(200);
  });
});
