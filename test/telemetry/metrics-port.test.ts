import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { parseSamples, valueOf } from "../support/prometheus-text.js";
import { freePort } from "../support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { killAll, send, spawnService, tokenRequest, type Service } from "../support/service-process.js";

// The process as an operator runs it: METRICS_PORT keeps /metrics off the service port, and with
// M2M_WORKERS=2 every scrape (on either port) counts what both workers did.

const ADMIN = { M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU" };
const children: ChildProcess[] = [];
afterEach(() => killAll(children));

async function scrapeAt(port: number): Promise<ReturnType<typeof parseSamples>> {
  const reply = await send(port, "/metrics");
  expect(reply.status, reply.body).toBe(200);
  return parseSamples(reply.body);
}

/** tokensFromBothWorkers sends token requests on fresh connections until both workers have served some; it returns how many. */
async function tokensFromBothWorkers(service: Service, workers: number[]): Promise<number> {
  const servedBy = () =>
    new Set(
      service
        .lines()
        .filter((l) => l["route"] === "/oauth/token" && l["status"] === 200)
        .map((l) => l.pid),
    );
  let sent = 0;
  while (sent < 20) {
    const reply = await tokenRequest(service.port, ADMIN.M2M_ADMIN_CLIENT_ID, ADMIN.M2M_ADMIN_CLIENT_SECRET);
    expect(reply.status, reply.body).toBe(200);
    sent++;
    await service.waitFor(`token line ${sent}`, () => service.lines().filter((l) => l["route"] === "/oauth/token").length >= sent);
    if (sent >= 4 && workers.every((pid) => servedBy().has(pid))) return sent;
  }
  throw new Error("20 token requests on fresh connections never reached both workers");
}

describe("METRICS_PORT", () => {
  it("serves /metrics there only, with process metrics, and the service port answers 404", async () => {
    const metricsPort = await freePort();
    const service = spawnService({ ...ADMIN, METRICS_PORT: String(metricsPort) }, await freePort(), children);
    await service.waitFor("listening", (l) => l.msg === "listening");
    expect(service.lines().find((l) => l.msg === "serving metrics")).toMatchObject({ url: `http://127.0.0.1:${metricsPort}/metrics` });
    expect((await tokenRequest(service.port, ADMIN.M2M_ADMIN_CLIENT_ID, ADMIN.M2M_ADMIN_CLIENT_SECRET)).status).toBe(200);
    expect((await send(service.port, "/metrics")).status).toBe(404);
    const samples = await scrapeAt(metricsPort);
    expect(valueOf(samples, "m2m_auth_tokens_issued_total", { grant: "client_credentials" })).toBe(1);
    expect(valueOf(samples, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(valueOf(samples, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    // Nothing else is served there.
    expect((await send(metricsPort, "/oauth/token", { method: "POST" })).status).toBe(404);
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
  });

  it("refuses the service's own port, naming the variable", async () => {
    const port = await freePort();
    const service = spawnService({ ...ADMIN, METRICS_PORT: String(port) }, port, children);
    expect(await service.exited).toBe(2);
    expect(service.stderr()).toMatch(/METRICS_PORT.*must differ from PORT/);
  });

  it("fails the start, printing no credentials, when the port is in use", async () => {
    const busy = spawnService(ADMIN, await freePort(), children);
    await busy.waitFor("listening", (l) => l.msg === "listening");
    const service = spawnService({ METRICS_PORT: String(busy.port) }, await freePort(), children);
    expect(await service.exited).toBe(1);
    expect(JSON.stringify(service.lines())).toContain(`METRICS_PORT: port ${busy.port} is in use`);
    expect(service.stderr()).not.toContain("client_secret");
  });
});

describe("M2M_WORKERS=2", () => {
  const start = async (env: Record<string, string>) => {
    const service = spawnService({ ...ADMIN, REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix(), M2M_WORKERS: "2", ...env }, await freePort(), children);
    const started = await service.waitFor('"started workers"', (l) => l.msg === "started workers", 25_000);
    return { service, workers: started["workerPids"] as number[] };
  };

  it("answers a scrape on the service port with both workers' counts, whichever worker takes it", async () => {
    const { service, workers } = await start({});
    const sent = await tokensFromBothWorkers(service, workers);
    for (let i = 0; i < 4; i++) {
      expect(valueOf(await scrapeAt(service.port), "m2m_auth_tokens_issued_total", { grant: "client_credentials" })).toBe(sent);
    }
  }, 40_000);

  it("serves both workers' counts on METRICS_PORT from the primary", async () => {
    const metricsPort = await freePort();
    const { service, workers } = await start({ METRICS_PORT: String(metricsPort) });
    const sent = await tokensFromBothWorkers(service, workers);
    const samples = await scrapeAt(metricsPort);
    expect(valueOf(samples, "m2m_auth_tokens_issued_total", { grant: "client_credentials" })).toBe(sent);
    expect(valueOf(samples, "m2m_auth_http_request_duration_seconds_count", { route: "/oauth/token" })).toBe(sent);
    expect((await send(service.port, "/metrics")).status).toBe(404);
  }, 40_000);
});
