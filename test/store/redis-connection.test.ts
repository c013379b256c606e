import { afterEach, describe, expect, it } from "vitest";
import { commandTimeoutOf, createRedisConnection, defaultStoreTimeoutMs, keepConnected, type RedisClient } from "../../src/store/redis-connection.js";
import { testRedisUrl } from "../support/redis.js";
import { waitUntil } from "../support/redis-process.js";

// The connection's own settings: its timeout (M2M_STORE_TIMEOUT_MS), and staying connected.

const opened: RedisClient[] = [];
afterEach(() => {
  for (const redis of opened.splice(0)) redis.disconnect();
});

function open(options: Parameters<typeof createRedisConnection>[0]): RedisClient {
  const redis = createRedisConnection(options);
  opened.push(redis);
  return redis;
}

describe("createRedisConnection", () => {
  it("bounds connection attempts and commands by timeoutMs, 500 ms unless told", () => {
    expect(defaultStoreTimeoutMs).toBe(500);
    expect(commandTimeoutOf(open(testRedisUrl()))).toBe(500);
    const single = open({ kind: "single", url: testRedisUrl(), timeoutMs: 250 });
    expect([commandTimeoutOf(single), "connectTimeout" in single.options && single.options.connectTimeout]).toEqual([250, 250]);
    const cluster = createRedisConnection({ kind: "cluster", nodes: [{ host: "127.0.0.1", port: 1 }], timeoutMs: 300 });
    cluster.disconnect();
    expect(commandTimeoutOf(cluster)).toBe(300);
    expect(() => createRedisConnection({ kind: "single", url: testRedisUrl(), timeoutMs: 0 })).toThrow(TypeError);
  });
});

describe("keepConnected", () => {
  it("connects again a client that ended without being closed on purpose, and lets one closed on purpose end", async () => {
    const redis = open(testRedisUrl());
    const stop = keepConnected(redis);
    expect(await redis.ping()).toBe("PONG");
    // What ioredis does to a Sentinel client when a failover is announced mid-connect: it ends.
    redis.disconnect();
    await waitUntil(async () => redis.status === "end", 2_000, "the client did not end");
    await waitUntil(async () => redis.status === "ready", 2_000, "the client did not connect again");
    expect(await redis.ping()).toBe("PONG");

    stop();
    await redis.quit();
    await new Promise((r) => setTimeout(r, 300));
    expect(redis.status).toBe("end");
  });
});
