import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM2MServer } from "../../src/server.js";
import { StoreStateError } from "../../src/state/store-state-error.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { captureLog } from "../support/log-capture.js";
import { freePort, removeDir, startRedisProcess, tempDir, type RedisProcess } from "../support/redis-process.js";
import { uniquePrefix } from "../support/redis.js";

// An evicting Redis silently deletes client records and the issuer's keys: the service reads the
// policy at start and refuses anything but noeviction, unless told to start anyway.

const started: { redis: RedisProcess; dir: string }[] = [];

async function privateRedis(...extra: string[]): Promise<string> {
  const port = await freePort();
  const dir = tempDir("eviction");
  const redis = await startRedisProcess(port, dir, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extra]);
  started.push({ redis, dir });
  return `redis://127.0.0.1:${port}`;
}

let evicting: string;
let hidden: string;
beforeAll(async () => {
  evicting = await privateRedis("--maxmemory-policy", "allkeys-lru");
  // Managed Redis often refuses CONFIG: the policy is then read from INFO memory.
  hidden = await privateRedis("--maxmemory-policy", "volatile-lru", "--rename-command", "CONFIG", "");
});
afterAll(async () => {
  for (const { redis, dir } of started.splice(0)) {
    await redis.stop();
    removeDir(dir);
  }
});

async function start(url: string, allowEvictingStore: boolean, keyPrefix = uniquePrefix()) {
  const store = createRedisStore({ url, keyPrefix });
  const log = captureLog();
  try {
    const server = await createM2MServer({
      host: "127.0.0.1",
      port: 0,
      issuer: "http://m2m-auth.test",
      signingAlg: "ES256",
      store,
      logger: log.logger,
      allowEvictingStore,
    });
    await server.close();
    return { log, started: true as const };
  } catch (err) {
    return { log, started: false as const, err };
  } finally {
    await store.close();
  }
}

describe("the Redis deployment's eviction policy", () => {
  it("is read with CONFIG GET, or from INFO memory where CONFIG is refused", async () => {
    for (const [url, policy] of [
      [evicting, "allkeys-lru"],
      [hidden, "volatile-lru"],
    ] as const) {
      const store = createRedisStore({ url, keyPrefix: uniquePrefix() });
      expect(await store.evictionPolicies?.()).toEqual([policy]);
      await store.close();
    }
  });

  it("refuses a start on an evicting Redis, exit code 2, and writes nothing", async () => {
    const keyPrefix = uniquePrefix();
    const outcome = await start(hidden, false, keyPrefix);
    expect(outcome.started).toBe(false);
    const err = (outcome as { err: StoreStateError }).err;
    expect(err).toBeInstanceOf(StoreStateError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/maxmemory-policy is volatile-lru.*Set maxmemory-policy noeviction.*M2M_ALLOW_EVICTING_REDIS=true/);
    const store = createRedisStore({ url: hidden, keyPrefix });
    expect(await store.empty()).toBe(true);
    await store.close();
  });

  it("starts anyway with M2M_ALLOW_EVICTING_REDIS, warning once", async () => {
    const outcome = await start(evicting, true);
    expect(outcome.started).toBe(true);
    expect(outcome.log.count("warn", /maxmemory-policy is allkeys-lru.*starting anyway because M2M_ALLOW_EVICTING_REDIS is set/)).toBe(1);
  });

  it("scans for a prefix as written, glob characters and all", () => {
    // One home for the pattern: the key layout's, which the empty-prefix check scans with.
    expect(createKeyLayout("m2m:").match).toBe("m2m:*");
    expect(createKeyLayout("a*b?[c]\\").match).toBe("a\\*b\\?\\[c\\]\\\\*");
  });
});
