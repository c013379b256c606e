import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnavailableError } from "../../src/errors.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { freePort, redisCli } from "../support/redis-process.js";
import { startRedisSentinel, type TestRedisSentinel } from "../support/redis-sentinel.js";
import { uniquePrefix } from "../support/redis.js";
import { makeRecord, newOrganizationId } from "./client-record-fixtures.js";
import { describeClientStoreContract } from "./client-store-contract.js";

// The store on a primary guarded by three Sentinels: the whole contract, on the primary they
// name, and fast failure when they cannot name one. Failover: test/redis/sentinel-server.test.ts.

let sentinel: TestRedisSentinel;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
});
afterAll(async () => {
  await sentinel?.stop();
});

describeClientStoreContract("redis sentinel store", async () => createRedisStore({ connection: sentinel.connection, keyPrefix: uniquePrefix() }));

describe("redis sentinel store", () => {
  it("writes to the primary the Sentinels name, which the replica follows", async () => {
    const prefix = uniquePrefix();
    const store = createRedisStore({ connection: sentinel.connection, keyPrefix: prefix });
    const record = makeRecord(newOrganizationId());
    await store.clients.create(record);
    const key = createKeyLayout(prefix).client(record.client?.clientId ?? "");
    const primary = await sentinel.primaryPort();
    expect(await redisCli(primary, "exists", key)).toBe("1");
    expect(await redisCli(primary, "role")).toMatch(/^master/);
    await store.close();
  });

  it("fails fast with UnavailableError when no Sentinel is reachable", async () => {
    const sentinels = [{ host: "127.0.0.1", port: await freePort() }];
    const store = createRedisStore({ connection: { kind: "sentinel", sentinels, name: sentinel.name }, keyPrefix: uniquePrefix() });
    const started = Date.now();
    // The client keeps asking the Sentinels in turn; each command waits for that at most commandTimeout.
    const results = await Promise.allSettled([store.clients.get("anything"), store.state.put("k", new Uint8Array([1])), store.ping()]);
    for (const result of results) expect(result.status === "rejected" && result.reason instanceof UnavailableError).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_500);
    await store.close();
  });

  it("fails fast with UnavailableError when the Sentinels know no primary by that name", async () => {
    const store = createRedisStore({ connection: { kind: "sentinel", sentinels: sentinel.sentinels, name: "no-such-primary" }, keyPrefix: uniquePrefix() });
    const started = Date.now();
    await expect(store.clients.get("anything")).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(2_500);
    await store.close();
  });
});
