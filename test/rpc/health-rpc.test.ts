import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus, type HealthCheckResponse } from "../../gen/grpc/health/v1/health_pb.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { uniquePrefix } from "../support/redis.js";
import { freePort, redisCli, removeDir, startRedisProcess, tempDir, waitUntil, type RedisProcess } from "../support/redis-process.js";
import { startTestServer, type TestServer } from "../support/server.js";

// grpc.health.v1 over real gRPC (h2c) against a server on a private redis-server that the test
// stops and restarts on the same port: Check and Watch say NOT_SERVING while it is down, SERVING
// again once it is back, for the server overall ("") and for each of its services, and they agree
// with /readyz. Redis saves on shutdown, so it comes back with the issuer's state.

const services = ["", "m2mauth.v1.TokenService", "m2mauth.v1.OrganizationClientService", "m2mauth.v1.SigningKeyService"];
let dir: string;
let port: number;
let redis: RedisProcess;
let t: TestServer;
let health: Client<typeof Health>;

const redisArgs = () => ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb"];

beforeAll(async () => {
  dir = tempDir("health");
  port = await freePort();
  redis = await startRedisProcess(port, dir, redisArgs());
  const store = createRedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: uniquePrefix(), timeoutMs: 500 });
  // The state watch reads the store this often: what notices a stopped Redis with no traffic.
  t = await startTestServer({ store, keys: { keyReloadIntervalMs: 200 } });
  health = createClient(Health, createGrpcTransport({ baseUrl: t.url }));
}, 30_000);

afterAll(async () => {
  await t?.close();
  await t?.store.close();
  await redis?.stop();
  if (dir) removeDir(dir);
});

/** Watching reads one Watch stream message by message, each read bounded in time. */
function watching(service: string) {
  const abort = new AbortController();
  const stream = health.watch({ service }, { signal: abort.signal })[Symbol.asyncIterator]();
  return {
    async next(ms = 8_000): Promise<HealthCheckResponse | "ended" | "nothing"> {
      let timer: NodeJS.Timeout | undefined;
      const quiet = new Promise<"nothing">((resolve) => (timer = setTimeout(() => resolve("nothing"), ms)));
      const read = stream.next().then((r) => (r.done ? ("ended" as const) : r.value));
      try {
        return await Promise.race([read, quiet]);
      } finally {
        clearTimeout(timer);
      }
    },
    stop: () => abort.abort(),
  };
}

async function statuses(): Promise<ServingStatus[]> {
  return Promise.all(services.map(async (service) => (await health.check({ service })).status));
}

const readyz = async () => (await fetch(`${t.url}/readyz`)).status;

describe("grpc.health.v1.Health", () => {
  it("answers SERVING for the server and each of its services, and NOT_FOUND for another", async () => {
    expect(await statuses()).toEqual(services.map(() => ServingStatus.SERVING));
    const err = await health.check({ service: "example.v1.Unknown" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
  });

  it("Watch answers SERVICE_UNKNOWN for another service and keeps the call open", async () => {
    const watch = watching("example.v1.Unknown");
    try {
      expect(await watch.next()).toMatchObject({ status: ServingStatus.SERVICE_UNKNOWN });
      expect(await watch.next(300)).toBe("nothing");
    } finally {
      watch.stop();
    }
  });

  it("flips to NOT_SERVING when Redis stops and back to SERVING when it returns, Check and Watch alike", async () => {
    const overall = watching("");
    const tokens = watching("m2mauth.v1.TokenService");
    try {
      expect(await overall.next()).toMatchObject({ status: ServingStatus.SERVING });
      expect(await tokens.next()).toMatchObject({ status: ServingStatus.SERVING });

      await redisCli(port, "shutdown", "save");
      await waitUntil(async () => redis.exited, 5_000, "redis-server did not exit");
      expect(await overall.next()).toMatchObject({ status: ServingStatus.NOT_SERVING });
      expect(await tokens.next()).toMatchObject({ status: ServingStatus.NOT_SERVING });
      expect(await statuses()).toEqual(services.map(() => ServingStatus.NOT_SERVING));
      // The HTTP probes agree: not ready, but alive (a restart would not bring Redis back).
      expect(await readyz()).toBe(503);
      expect((await fetch(`${t.url}/livez`)).status).toBe(200);

      redis = await startRedisProcess(port, dir, redisArgs());
      expect(await overall.next()).toMatchObject({ status: ServingStatus.SERVING });
      expect(await tokens.next()).toMatchObject({ status: ServingStatus.SERVING });
      expect(await statuses()).toEqual(services.map(() => ServingStatus.SERVING));
      expect(await readyz()).toBe(200);
      // A status is sent when it changes, not again while it holds.
      expect(await overall.next(500)).toBe("nothing");
    } finally {
      overall.stop();
      tokens.stop();
    }
  }, 30_000);
});

describe("health on a closing server", () => {
  it("tells a watcher NOT_SERVING, then ends its call, and does not hold the shutdown", async () => {
    const own = await startTestServer({ backend: "memory" });
    const client = createClient(Health, createGrpcTransport({ baseUrl: own.url }));
    const stream = client.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await stream.next()).value).toMatchObject({ status: ServingStatus.SERVING });
    const started = performance.now();
    const closed = own.close();
    expect((await stream.next()).value).toMatchObject({ status: ServingStatus.NOT_SERVING });
    expect((await stream.next()).done).toBe(true);
    await closed;
    // The listener's shutdown timeout (10 s) is what an open watch would have cost.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
