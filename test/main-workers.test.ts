import type { ChildProcess } from "node:child_process";
import * as http from "node:http";
import { createServer, type Server } from "node:net";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "./support/redis.js";
import { killAll, send, spawnService, tokenRequest, type Service } from "./support/service-process.js";

// M2M_WORKERS=2 as an operator runs it: one primary, two node:cluster workers on one known port,
// one Redis. Which worker answered is read from the per-request log lines, which carry the pid;
// fresh connections are handed to the workers in turn.

const ADMIN_SECRET = "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const perTest: ChildProcess[] = [];
const perFile: ChildProcess[] = [];
afterEach(() => killAll(perTest));
afterAll(() => killAll(perFile));

/** startWorkers starts a primary with two workers and waits until both listen. */
async function startWorkers(env: Record<string, string>, owner: ChildProcess[]): Promise<{ service: Service; workers: number[] }> {
  const service = spawnService({ REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix(), M2M_WORKERS: "2", ...env }, await freePort(), owner);
  const started = await service.waitFor('"started workers"', (l) => l.msg === "started workers", 25_000);
  expect(started).toMatchObject({ workers: 2, url: `http://127.0.0.1:${service.port}` });
  return { service, workers: started["workerPids"] as number[] };
}

async function token(port: number, clientId: string, clientSecret: string): Promise<string> {
  const reply = await tokenRequest(port, clientId, clientSecret);
  expect(reply.status, reply.body).toBe(200);
  return (JSON.parse(reply.body) as { access_token: string }).access_token;
}

const tokenLines = (service: Service, clientId: string) => service.lines().filter((l) => l["route"] === "/oauth/token" && l["clientId"] === clientId);

/** servedBy sends fresh-connection token requests until one is logged by a worker in `pids`; every one must succeed. */
async function servedBy(service: Service, pids: number[], clientId: string, clientSecret: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const before = tokenLines(service, clientId).length;
    await token(service.port, clientId, clientSecret);
    await service.waitFor(`token log line ${before + 1} of ${clientId}`, () => tokenLines(service, clientId).length > before);
    if (pids.includes(tokenLines(service, clientId)[before]!.pid)) return;
  }
  throw new Error(`10 token requests on fresh connections never reached worker ${pids.join(", ")}`);
}

describe("M2M_WORKERS=2 over one Redis", () => {
  let service: Service;
  let workers: number[];
  let admin: { id: string; secret: string };

  // One start serves the tests of this block (a start is three processes); the last one kills a worker.
  beforeAll(async () => {
    ({ service, workers } = await startWorkers({}, perFile));
    const printed = /client_id:\s+(\S+)\n\s+client_secret:\s+(\S+)/.exec(service.stderr());
    if (!printed) throw new Error(`no bootstrap credentials on stderr: ${service.stderr()}`);
    admin = { id: printed[1]!, secret: printed[2]! };
  }, 30_000);

  it("prints the bootstrap admin credentials once, not once per worker", () => {
    expect(new Set(workers).size).toBe(2);
    expect(workers).not.toContain(service.child.pid);
    const listening = service.lines().filter((l) => l.msg === "listening");
    expect(listening.map((l) => l.pid).sort()).toEqual([...workers].sort());
    expect(service.stderr().match(/created admin credentials/g)).toHaveLength(1);
    expect(service.stderr().match(/client_secret:/g)).toHaveLength(1);
    expect(service.lines().filter((l) => l.msg === "started workers")).toHaveLength(1);
    expect(JSON.stringify(service.lines())).not.toContain(admin.secret);
  });

  it("serves tokens from both workers that verify against one JWKS fetched once", async () => {
    const jwks = createLocalJWKSet(JSON.parse((await send(service.port, "/.well-known/jwks.json")).body) as JSONWebKeySet);
    const before = tokenLines(service, admin.id).length;
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) tokens.push(await token(service.port, admin.id, admin.secret));
    await service.waitFor("6 token log lines", () => tokenLines(service, admin.id).length >= before + 6);
    const answered = tokenLines(service, admin.id).slice(before);
    expect(answered.map((l) => l["status"])).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(answered.map((l) => l.pid))).toEqual(new Set(workers));
    for (const t of tokens) {
      const { payload } = await jwtVerify(t, jwks, { issuer: `http://localhost:${service.port}`, typ: "at+jwt" });
      expect(payload.client_id).toBe(admin.id);
    }
  });

  it("authenticates through one worker a client created through the other, and shares page tokens", async () => {
    const adminToken = await token(service.port, admin.id, admin.secret);
    const org = `org_workers${Date.now()}`;
    const auth = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
    const path = `/api/v1/organizations/${org}/clients`;
    const createdBy: number[] = [];
    let client: { client: { client_id: string }; plain_secret: string } | undefined;
    for (const name of ["one", "two"]) {
      const created = await send(service.port, path, { method: "POST", headers: auth, body: JSON.stringify({ name, audience: ["api"] }) });
      expect(created.status, created.body).toBe(201);
      client ??= JSON.parse(created.body);
      const n = createdBy.length + 1;
      await service.waitFor(`creation ${n} in the log`, () => service.lines().filter((l) => l["method"] === "POST" && l["path"] === path).length >= n);
      createdBy.push(service.lines().filter((l) => l["method"] === "POST" && l["path"] === path)[n - 1]!.pid);
    }
    const creator = createdBy[0]!;
    await servedBy(
      service,
      workers.filter((pid) => pid !== creator),
      client!.client.client_id,
      client!.plain_secret,
    );
    expect(tokenLines(service, client!.client.client_id).every((l) => l["status"] === 200)).toBe(true);

    // A page token is sealed with a key derived from the store's secret-hash key: any worker opens it.
    const first = await send(service.port, `${path}?page_size=1`, { headers: auth });
    const pageToken = (JSON.parse(first.body) as { next_page_token: string }).next_page_token;
    expect(pageToken).toBeTruthy();
    for (let i = 0; i < 2; i++) {
      const next = await send(service.port, `${path}?page_size=1&page_token=${encodeURIComponent(pageToken)}`, { headers: auth });
      expect(next.status, next.body).toBe(200);
    }
    const lists = () => service.lines().filter((l) => l["method"] === "GET" && l["path"] === path);
    await service.waitFor("3 list lines", () => lists().length >= 3);
    expect(lists().map((l) => l["status"])).toEqual([200, 200, 200]);
    expect(new Set(lists().map((l) => l.pid))).toEqual(new Set(workers));
  });

  it("replaces a worker killed with SIGKILL and keeps serving meanwhile", async () => {
    const [victim, survivor] = workers as [number, number];
    process.kill(victim, "SIGKILL");
    const died = await service.waitFor("the primary's line about the dead worker", (l) => l.msg === "worker died: restarting it" && l["workerPid"] === victim);
    expect(died).toMatchObject({ pid: service.child.pid, level: "error", signal: "SIGKILL", code: null });
    // Until the replacement listens, the survivor serves every connection.
    await token(service.port, admin.id, admin.secret);
    await token(service.port, admin.id, admin.secret);
    const replacement = await service.waitFor("a replacement worker listening", (l) => l.msg === "listening" && !workers.includes(l.pid));
    expect(replacement["url"]).toBe(`http://127.0.0.1:${service.port}`);
    await servedBy(service, [replacement.pid], admin.id, admin.secret);
    await servedBy(service, [survivor], admin.id, admin.secret);
    expect(service.child.exitCode).toBeNull();
  });
});

describe("M2M_WORKERS=2 lifecycle", () => {
  it("with M2M_DRAIN_SECONDS=0, stops both workers at once on SIGTERM under load: every accepted request gets its 200, and the primary exits 0", async () => {
    // A client that keeps sending after SIGTERM meets a closed port; main-drain.test.ts drains.
    const { service } = await startWorkers({ M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET, M2M_DRAIN_SECONDS: "0" }, perTest);
    const concurrency = 8;
    // Kept-alive connections, as a client pool holds them: the race on close lives on these.
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    interface Outcome {
      status?: number;
      error?: string;
      reused: boolean;
      closing?: boolean;
      afterSigterm: boolean;
    }
    const outcomes: Outcome[] = [];
    let sigterm = false;
    const deadline = Date.now() + 15_000;
    const loop = async () => {
      while (Date.now() < deadline) {
        const afterSigterm = sigterm;
        try {
          const reply = await tokenRequest(service.port, "admin", ADMIN_SECRET, agent);
          outcomes.push({ status: reply.status, reused: reply.reused, closing: reply.closing, afterSigterm });
          if (reply.status !== 200) return;
        } catch (err) {
          const { code, reused } = err as { code?: string; reused: boolean };
          outcomes.push({ error: code ?? String(err), reused, afterSigterm });
          return; // the listener is gone (or something broke: the assertions below say which)
        }
      }
    };
    const loops = Array.from({ length: concurrency }, loop);
    while (outcomes.length < 60 && Date.now() < deadline) await sleep(5);
    sigterm = true;
    service.child.kill("SIGTERM");
    await Promise.all(loops);
    agent.destroy();
    expect(await Promise.race([service.exited, sleep(20_000).then(() => "still running")])).toBe(0);

    const failures = outcomes.filter((o) => o.error !== undefined);
    // Refused: the listener had closed. A reset of a connection opened after SIGTERM, before any
    // response: accepted by the kernel (or queued by the primary) but never by a worker.
    const unserved = (o: Outcome) => o.error === "ECONNREFUSED" || (!o.reused && o.afterSigterm && ["ECONNRESET", "EPIPE"].includes(o.error ?? ""));
    expect(failures.filter((o) => !unserved(o))).toEqual([]);
    expect(outcomes.filter((o) => o.error === undefined && o.status !== 200)).toEqual([]);
    // The drain was exercised: requests were answered while their worker was closing.
    expect(outcomes.filter((o) => o.status === 200 && o.closing).length).toBeGreaterThan(0);
    // No request sent over a kept-alive connection failed, whenever it was sent.
    expect(outcomes.filter((o) => o.reused && o.error !== undefined)).toEqual([]);
    // Every token the workers issued reached its client: none was lost after being served.
    const served = tokenLines(service, "admin");
    expect(served.every((l) => l["status"] === 200)).toBe(true);
    expect(served.length).toBe(outcomes.filter((o) => o.status === 200).length);
    expect(
      service
        .lines()
        .filter((l) => l.msg === "stopped")
        .map((l) => l.pid),
    ).toContain(service.child.pid);
  }, 45_000);

  it("refuses M2M_WORKERS=2 without Redis, naming M2M_WORKERS, with exit code 2", async () => {
    const service = spawnService({ M2M_WORKERS: "2" }, await freePort(), perTest);
    expect(await service.exited).toBe(2);
    expect(service.stderr()).toMatch(/invalid configuration: M2M_WORKERS: .*REDIS_URL/);
  });

  it("reports a start error once, from the primary, before forking: Redis unreachable exits 1", async () => {
    const service = spawnService({ REDIS_URL: "redis://127.0.0.1:1", M2M_WORKERS: "2" }, await freePort(), perTest);
    expect(await Promise.race([service.exited, sleep(20_000).then(() => "still running")])).toBe(1);
    const failed = service.lines().filter((l) => l.msg === "start failed");
    expect(failed.map((l) => l.pid)).toEqual([service.child.pid]);
    expect(service.lines().filter((l) => l.pid !== service.child.pid)).toEqual([]);
  });

  // The primary binds the port before it prepares the state (main-first-hour.test.ts): a busy
  // port stops it before any worker is forked. A worker that fails anyway is primary.test.ts's.
  it("stops with exit code 1, without a restart loop, when the port is busy", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as { port: number };
    try {
      const service = spawnService(
        { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix(), M2M_WORKERS: "2", M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET },
        port,
        perTest,
      );
      expect(await Promise.race([service.exited, sleep(20_000).then(() => "still running")])).toBe(1);
      expect(service.stderr()).toContain(`port ${port} is in use`);
      expect(service.lines().filter((l) => l.msg === "start failed" && /EADDRINUSE/.test(JSON.stringify(l)))).not.toHaveLength(0);
      expect(service.lines().filter((l) => l.msg === "listening")).toHaveLength(0);
    } finally {
      taken.close();
    }
  });
});
