import { afterAll, describe, expect, it } from "vitest";
import { assertRedisReachable, StoreUnreachableError } from "../../src/store/redis-reachable.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { startRedisSentinel, type TestRedisSentinel } from "../support/redis-sentinel.js";

// The start's check passes on a healthy Cluster and Sentinel deployment (ready: slots known, the
// primary found), and names the reason once the Cluster is gone.

let cluster: TestRedisCluster | undefined;
let sentinel: TestRedisSentinel | undefined;
afterAll(async () => {
  await cluster?.stop();
  await sentinel?.stop();
});

describe("assertRedisReachable on real deployments", { timeout: 60_000 }, () => {
  it("resolves for a Cluster, and names its seeds once the nodes are down", async () => {
    cluster = await startRedisCluster();
    await assertRedisReachable({ kind: "cluster", nodes: cluster.nodes });
    await cluster.stopNodes();
    const err = await assertRedisReachable({ kind: "cluster", nodes: cluster.nodes }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnreachableError);
    expect((err as Error).message).toMatch(/^cannot reach the Redis Cluster at 127\.0\.0\.1:\d+, .*: ECONNREFUSED$/);
  });

  it("resolves for a primary found through Sentinels, and refuses an unknown primary name", async () => {
    sentinel = await startRedisSentinel();
    await assertRedisReachable(sentinel.connection);
    const err = await assertRedisReachable({ kind: "sentinel", sentinels: sentinel.sentinels, name: "no-such-primary" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnreachableError);
    expect((err as Error).message).toMatch(
      /^cannot reach Redis primary "no-such-primary" through the Sentinels at 127\.0\.0\.1:\d+, .*: ERR No such master with that name$/,
    );
  });
});
