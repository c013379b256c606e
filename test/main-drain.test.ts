import type { ChildProcess } from "node:child_process";
import * as http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "./support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "./support/redis.js";
import { killAll, send, spawnService, tokenRequest } from "./support/service-process.js";

// SIGTERM as an orchestrator sends it, with a balancer in front: the process fails /readyz at once
// and keeps serving for M2M_DRAIN_SECONDS, then stops accepting, finishes what is in flight and
// exits 0. The load keeps sending, on kept-alive and on fresh connections, until well after
// /readyz failed (a balancer's checks lag) but before the drain ends, as a balancer would: not
// one of its connections may be refused, not one request may fail.

const ADMIN_SECRET = "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU";
const drainSeconds = 2;
// When the load stops, counted from SIGTERM: after /readyz fails, before the drain is over.
const loadAfterSigtermMs = 1_200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
afterEach(() => killAll(children));

interface Outcome {
  at: number;
  status?: number;
  error?: string;
  reused: boolean;
  closing?: boolean;
}

async function record(outcomes: Outcome[], request: () => Promise<{ status: number; reused: boolean; closing: boolean; body: string }>): Promise<string> {
  const at = Date.now();
  try {
    const reply = await request();
    outcomes.push({ at, status: reply.status, reused: reply.reused, closing: reply.closing });
    return reply.body;
  } catch (err) {
    const { code, reused } = err as { code?: string; reused: boolean };
    outcomes.push({ at, error: code ?? String(err), reused });
    return "";
  }
}

describe.each([1, 2])("M2M_WORKERS=%i, M2M_DRAIN_SECONDS=2", (workers) => {
  it("drains on SIGTERM under load: /readyz fails at once, 0 refused connections, 0 failed requests, exit 0", async () => {
    const env = {
      REDIS_URL: testRedisUrl(),
      M2M_KEY_PREFIX: uniquePrefix(),
      M2M_WORKERS: String(workers),
      M2M_ADMIN_CLIENT_ID: "admin",
      M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
      M2M_DRAIN_SECONDS: String(drainSeconds),
    };
    const service = spawnService(env, await freePort(), children);
    if (workers === 1) await service.waitFor("listening", (l) => l.msg === "listening", 25_000);
    else await service.waitFor("started workers", (l) => l.msg === "started workers", 25_000);
    const { port } = service;

    // Half the load on kept-alive connections (a client pool), half on a fresh connection each.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const tokens: Outcome[] = [];
    const readyz: Outcome[] = [];
    const reasons: string[] = [];
    let stop = false;
    const tokenLoop = (pooled: boolean) => async () => {
      while (!stop) await record(tokens, () => tokenRequest(port, "admin", ADMIN_SECRET, pooled ? agent : undefined));
    };
    const readyLoop = async () => {
      while (!stop) {
        const body = await record(readyz, () => send(port, "/readyz"));
        if (body) reasons.push(...((JSON.parse(body) as { reasons?: string[] }).reasons ?? []));
        await sleep(25);
      }
    };
    const loops = [...Array.from({ length: 4 }, (_, i) => tokenLoop(i % 2 === 0)), readyLoop].map((loop) => loop());
    // A keep-alive connection left idle across the SIGTERM, as a client pool holds many: its next
    // request must be answered, not reset (the busy loops rarely hit that moment by chance).
    const idle = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await record(tokens, () => tokenRequest(port, "admin", ADMIN_SECRET, idle));
    while (tokens.length < 60) await sleep(5);

    const sigtermAt = Date.now();
    service.child.kill("SIGTERM");
    await sleep(100);
    await record(tokens, () => tokenRequest(port, "admin", ADMIN_SECRET, idle));
    await sleep(loadAfterSigtermMs - 100);
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    idle.destroy();
    expect(await Promise.race([service.exited, sleep(20_000).then(() => "still running")])).toBe(0);

    // 0 refused connections, 0 failed requests, before SIGTERM or after.
    expect([...tokens, ...readyz].filter((o) => o.error !== undefined)).toEqual([]);
    expect(tokens.filter((o) => o.status !== 200)).toEqual([]);
    const during = tokens.filter((o) => o.at > sigtermAt);
    expect(during.filter((o) => o.reused).length).toBeGreaterThan(0);
    expect(during.filter((o) => !o.reused).length).toBeGreaterThan(0);
    // The drain told clients to leave: answers said `connection: close`.
    expect(during.filter((o) => o.closing).length).toBeGreaterThan(0);
    // /readyz: 200 before, then 503 for good, naming the drain, while tokens were still served.
    const firstNotReady = readyz.findIndex((o) => o.status === 503);
    expect(firstNotReady).toBeGreaterThan(0);
    expect(readyz.slice(0, firstNotReady).every((o) => o.status === 200)).toBe(true);
    expect(readyz.slice(firstNotReady).every((o) => o.status === 503)).toBe(true);
    expect(reasons).toContain("draining: shutting down");
    expect(tokens.filter((o) => o.at > readyz[firstNotReady]!.at).length).toBeGreaterThan(0);

    // Every serving process drained for its M2M_DRAIN_SECONDS, and every token issued reached its client.
    const lines = service.lines();
    expect(lines.filter((l) => l.msg === "draining: not ready, still serving").map((l) => l["drainMs"])).toEqual(Array(workers).fill(drainSeconds * 1000));
    const served = lines.filter((l) => l["route"] === "/oauth/token");
    expect(served.every((l) => l["status"] === 200)).toBe(true);
    expect(served.length).toBe(tokens.length);
    expect(lines.filter((l) => l.msg === "stopped").map((l) => l.pid)).toContain(service.child.pid);
    console.info(
      `M2M_WORKERS=${workers}: ${tokens.length} token requests (${during.length} after SIGTERM, ${during.filter((o) => o.closing).length} answered with connection: close), ` +
        `first /readyz 503 ${readyz[firstNotReady]!.at - sigtermAt} ms after SIGTERM, 0 failed`,
    );
  }, 60_000);
});
