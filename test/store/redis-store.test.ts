import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnavailableError } from "../../src/errors.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { defineStoreScripts } from "../../src/store/redis-scripts.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { freePort } from "../support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { makeRecord, newClientId, newOrganizationId, randomBase32 } from "./client-record-fixtures.js";
import { describeClientStoreContract } from "./client-store-contract.js";

describeClientStoreContract("redis store", async () => createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() }));

function hashTagOf(key: string): string {
  return /\{([^}]+)\}/.exec(key)?.[1] ?? "";
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

describe("redis store", () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    await raw.quit();
  });

  it("writes every key under the prefix, each record in its organization's slot", async () => {
    const prefix = uniquePrefix();
    const store = createRedisStore({ url: testRedisUrl(), keyPrefix: prefix });
    const token = randomBase32(10);
    const org = `org_${token}`;
    const records = [0, 1, 2].map((i) => makeRecord(org, { clientId: newClientId(org, `${token}${"abc"[i]}`) }));
    for (const record of records) await store.clients.create(record);
    await store.state.put(`state-${token}`, new Uint8Array([1]));
    const keys = await scanKeys(raw, `*${token}*`);
    expect(keys).toHaveLength(5);
    for (const key of keys) expect(key.startsWith(prefix)).toBe(true);
    expect((await scanKeys(raw, `${prefix}*`)).sort()).toEqual(keys.sort());
    const layout = createKeyLayout(prefix);
    const indexTag = hashTagOf(layout.organizationIndex(org));
    for (const record of records) expect(hashTagOf(layout.client(record.client?.clientId ?? ""))).toBe(indexTag);
    await store.close();
  });

  it("creates record and index entry together, and a refused create changes nothing", async () => {
    const prefix = uniquePrefix();
    const layout = createKeyLayout(prefix);
    const store = createRedisStore({ url: testRedisUrl(), keyPrefix: prefix });
    const org = newOrganizationId();
    const record = makeRecord(org, { createMs: 1_700_000_000_123 });
    const clientId = record.client?.clientId ?? "";
    await store.clients.create(record);
    const member = `001700000000123:${clientId}`;
    expect(await raw.zrange(layout.organizationIndex(org), "0", "-1", "WITHSCORES")).toEqual([member, "0"]);
    const stored = await raw.getBuffer(layout.client(clientId));
    expect(stored).not.toBeNull();

    const other = newOrganizationId();
    expect(await store.clients.create(makeRecord(other, { clientId, name: "intruder" }))).toBe(false);
    expect(await raw.getBuffer(layout.client(clientId))).toEqual(stored);
    expect(await raw.zrange(layout.organizationIndex(org), "0", "-1")).toEqual([member]);
    expect(await raw.exists(layout.organizationIndex(other))).toBe(0);

    expect(await store.clients.delete(org, clientId)).toBe(true);
    expect(await raw.exists(layout.client(clientId), layout.organizationIndex(org))).toBe(0);
    await store.close();
  });

  it("keeps a create request in its organization's slot, written with the record, and lets Redis expire it", async () => {
    const prefix = uniquePrefix();
    const layout = createKeyLayout(prefix);
    const store = createRedisStore({ url: testRedisUrl(), keyPrefix: prefix });
    const org = newOrganizationId();
    const record = makeRecord(org);
    const key = randomBase32(20);
    expect(await store.clients.createOnce(record, { key, bytes: new Uint8Array([1, 2, 3]), ttlMs: 60_000 })).toEqual({ created: true });
    const requestKey = layout.createRequest(org, key);
    expect(hashTagOf(requestKey)).toBe(hashTagOf(layout.organizationIndex(org)));
    expect(hashTagOf(requestKey)).toBe(hashTagOf(layout.client(record.client!.clientId)));
    expect(await raw.getBuffer(requestKey)).toEqual(Buffer.from([1, 2, 3]));
    const ttl = await raw.pttl(requestKey);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await store.close();
  });

  it("deletes only the record the caller read, so a record created again is read again", async () => {
    const layout = createKeyLayout(uniquePrefix());
    const scripts = defineStoreScripts(raw);
    const org = newOrganizationId();
    const clientId = newClientId(org);
    const [recordKey, indexKey, useKey] = [layout.client(clientId), layout.organizationIndex(org), layout.secretUse(clientId)];
    await scripts.create([recordKey, indexKey], Buffer.from("new"), `000000000000002:${clientId}`);
    await raw.hset(useKey, "sec_1", "1");
    const announce = { channel: layout.clientChanges, message: clientId };
    expect(await scripts.delete(recordKey, indexKey, useKey, Buffer.from("old"), `000000000000001:${clientId}`, announce)).toBe(-1);
    expect(await scripts.delete(recordKey, indexKey, useKey, Buffer.from("new"), `000000000000001:${clientId}`, announce)).toBe(0);
    expect(await raw.exists(recordKey, indexKey, useKey)).toBe(3);
    expect(await scripts.delete(recordKey, indexKey, useKey, Buffer.from("new"), `000000000000002:${clientId}`, announce)).toBe(1);
    expect(await raw.exists(recordKey, indexKey, useKey)).toBe(0);
  });

  it("skips an index entry whose record is missing", async () => {
    const prefix = uniquePrefix();
    const store = createRedisStore({ url: testRedisUrl(), keyPrefix: prefix });
    const org = newOrganizationId();
    const records = [0, 1, 2].map((i) => makeRecord(org, { createMs: 1_000 + i }));
    for (const record of records) await store.clients.create(record);
    await raw.del(createKeyLayout(prefix).client(records[1]?.client?.clientId ?? ""));
    const page = await store.clients.list(org, { limit: 10 });
    expect(page.records.map((r) => r.client?.clientId)).toEqual([0, 2].map((i) => records[i]?.client?.clientId));
    await store.close();
  });

  it("refuses an organization client whose id lacks the organization's hash tag, unless the id is taken", async () => {
    const store = createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() });
    const org = newOrganizationId();
    // On a Cluster its record and index would sit on different slots: refused everywhere alike.
    await expect(store.clients.create(makeRecord(org, { clientId: `custom-${randomBase32(8)}` }))).rejects.toThrow(TypeError);
    await expect(store.clients.create(makeRecord(org, { clientId: newClientId(newOrganizationId()) }))).rejects.toThrow(/hash tag/);
    expect((await store.clients.list(org, { limit: 5 })).total).toBe(0);
    await store.close();
  });

  it("uses a client it is given and leaves it open on close", async () => {
    const redis = new Redis(testRedisUrl());
    const store = createRedisStore({ redis, keyPrefix: uniquePrefix() });
    await store.state.put("k", new Uint8Array([7]));
    await store.close();
    expect(await redis.ping()).toBe("PONG");
    await redis.quit();
  });

  it("rejects missing or conflicting options with TypeError naming them", () => {
    expect(() => createRedisStore({ url: testRedisUrl(), keyPrefix: "" })).toThrow(/keyPrefix/);
    expect(() => createRedisStore({ keyPrefix: "p:" })).toThrow(/url, connection or redis/);
    expect(() => createRedisStore({ url: testRedisUrl(), keyPrefix: "m2m{x}:" })).toThrow(/keyPrefix/);
    const redis = new Redis({ lazyConnect: true });
    expect(() => createRedisStore({ url: testRedisUrl(), redis, keyPrefix: "p:" })).toThrow(TypeError);
    redis.disconnect();
  });

  it("fails fast with UnavailableError when Redis is unreachable", async () => {
    const store = createRedisStore({ url: `redis://127.0.0.1:${await freePort()}`, keyPrefix: uniquePrefix() });
    const started = Date.now();
    await expect(store.clients.get("anything")).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    const org = newOrganizationId();
    const results = await Promise.allSettled([
      store.clients.create(makeRecord(org)),
      store.clients.list(org, { limit: 5 }),
      store.clients.delete(org, newClientId(org)),
      store.state.putIfAbsent("k", new Uint8Array([1])),
      store.state.put("k", new Uint8Array([1])),
      store.state.compareAndSet("k", undefined, new Uint8Array([1])),
      store.state.acquireLock("k", "owner", 1_000),
      store.state.releaseLock("k", "owner"),
      store.clients.update(org, newClientId(org), (record) => record),
      store.clients.recordSecretUse([{ clientId: newClientId(org), secretId: "s", timeMs: 1 }]),
      store.clients.secretUse([newClientId(org)]),
      store.ping(),
    ]);
    for (const result of results) {
      expect(result.status === "rejected" && result.reason instanceof UnavailableError).toBe(true);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    await store.close();
  });
});
