import { describe, expect, it } from "vitest";
import { assertRedisReachable, describeRedis, hidePassword, StoreUnreachableError } from "../../src/store/redis-reachable.js";
import { freePort } from "../support/redis-process.js";
import { testRedisUrl } from "../support/redis.js";

// The start's one question to Redis: real ports nothing listens on, and the test run's real Redis.

async function refusal(run: Promise<void>): Promise<StoreUnreachableError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreUnreachableError);
  return err as StoreUnreachableError;
}

describe("assertRedisReachable", () => {
  it("names a single node's URL with its password hidden, and the errno", async () => {
    const port = await freePort();
    const err = await refusal(assertRedisReachable({ kind: "single", url: `redis://app:s3cret@127.0.0.1:${port}` }));
    expect(err.message).toBe(`cannot reach Redis at redis://app:***@127.0.0.1:${port}: ECONNREFUSED`);
    expect(err).toMatchObject({ code: "store_unreachable", reason: "ECONNREFUSED" });
    expect(err.message).not.toContain("s3cret");
  });

  it("names a Cluster's seed nodes and the errno ioredis does not pass on", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const err = await refusal(
      assertRedisReachable({
        kind: "cluster",
        nodes: [
          { host: "127.0.0.1", port: a },
          { host: "127.0.0.1", port: b },
        ],
      }),
    );
    expect(err.message).toBe(`cannot reach the Redis Cluster at 127.0.0.1:${a}, 127.0.0.1:${b}: ECONNREFUSED`);
  });

  it("names the Sentinels and the primary's name", async () => {
    const port = await freePort();
    const err = await refusal(assertRedisReachable({ kind: "sentinel", sentinels: [{ host: "127.0.0.1", port }], name: "mymaster" }));
    expect(err.message).toBe(`cannot reach Redis primary "mymaster" through the Sentinels at 127.0.0.1:${port}: ECONNREFUSED`);
  });

  it("resolves for a Redis that answers", async () => {
    await assertRedisReachable({ kind: "single", url: testRedisUrl() });
  });

  it("hides a password-only URL's password and leaves one without as it is", () => {
    expect(hidePassword("redis://:pw@10.0.0.1:6379/2")).toBe("redis://:***@10.0.0.1:6379/2");
    expect(hidePassword("rediss://cache.internal:6380")).toBe("rediss://cache.internal:6380");
    expect(describeRedis({ kind: "single", url: "redis://:pw@h:1" })).toBe("Redis at redis://:***@h:1");
  });
});
