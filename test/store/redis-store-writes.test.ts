import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { UnavailableError } from "../../src/errors.js";
import type { Store } from "../../src/store/client-store.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { makeRecord, newClientId, newOrganizationId } from "./client-record-fixtures.js";
import { withScope } from "./client-update-contract.js";

// Redis-only checks of update, secret use and locks: keys, round trips and write conflicts.

function hashTagOf(key: string): string {
  return /\{([^}]+)\}/.exec(key)?.[1] ?? "";
}

describe("redis store: updates, secret use and locks", () => {
  let raw: Redis;
  let redis: Redis;
  let prefix: string;
  let store: Store;
  beforeAll(() => {
    raw = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    await raw.quit();
  });
  // Each test gets a client of its own, handed to the store, so it can watch what is sent.
  const open = async (): Promise<void> => {
    redis = new Redis(testRedisUrl());
    prefix = uniquePrefix();
    store = createRedisStore({ redis, keyPrefix: prefix });
    await redis.ping();
  };
  afterEach(async () => {
    vi.restoreAllMocks();
    await redis.quit();
  });

  /** created stores a new client of `org` and returns its id. */
  async function created(org: string): Promise<string> {
    const record = makeRecord(org, { secretIds: ["sec_1", "sec_2", "sec_3"] });
    expect(await store.clients.create(record)).toBe(true);
    return record.client?.clientId ?? "";
  }

  /** writes counts the writes to the client's socket during `run`: one per round trip. */
  async function writes(run: () => Promise<unknown>): Promise<number> {
    const write = vi.spyOn(redis.stream, "write");
    try {
      await run();
      return write.mock.calls.length;
    } finally {
      write.mockRestore();
    }
  }

  it("keeps secret-use times in the record's slot, and delete removes them with the record", async () => {
    await open();
    const layout = createKeyLayout(prefix);
    const org = newOrganizationId();
    const clientId = await created(org);
    const useKey = layout.secretUse(clientId);
    expect(hashTagOf(useKey)).toBe(hashTagOf(layout.client(clientId)));
    expect(hashTagOf(useKey)).toBe(hashTagOf(layout.organizationIndex(org)));
    await store.clients.recordSecretUse([
      { clientId, secretId: "sec_1", timeMs: 1_700_000_000_000 },
      { clientId, secretId: "sec_2", timeMs: 1_700_000_000_000 },
    ]);
    expect(await raw.hgetall(useKey)).toEqual({ sec_1: "1700000000000", sec_2: "1700000000000" });
    // Removing a secret removes its field in the update's own script: no extra round trip.
    const dropSecond = (record: ClientRecord) => {
      record.secretHashes = record.secretHashes.filter((hash) => hash.secretId !== "sec_2");
      return record;
    };
    expect(await writes(() => store.clients.update(org, clientId, dropSecond))).toBe(2);
    expect(await raw.hgetall(useKey)).toEqual({ sec_1: "1700000000000" });
    expect(await store.clients.delete(org, clientId)).toBe(true);
    expect(await raw.exists(useKey, layout.client(clientId))).toBe(0);
    await store.clients.recordSecretUse([{ clientId, secretId: "sec_1", timeMs: 1_700_000_000_001 }]);
    expect(await raw.exists(useKey)).toBe(0);
  });

  it("sends many secret uses, or reads many clients' times, in one round trip", async () => {
    await open();
    const orgs = [newOrganizationId(), newOrganizationId(), newOrganizationId()];
    const ids: string[] = [];
    for (const org of orgs) for (let i = 0; i < 5; i++) ids.push(await created(org));
    const uses = ids.flatMap((clientId, i) => ["sec_1", "sec_2", "sec_3"].map((secretId, j) => ({ clientId, secretId, timeMs: 1_000 * i + j })));
    expect(await writes(() => store.clients.recordSecretUse(uses))).toBe(1);
    expect(await writes(() => store.clients.recordSecretUse(uses))).toBe(1);
    let times = new Map<string, Map<string, number>>();
    expect(await writes(async () => (times = await store.clients.secretUse([...ids, newClientId(orgs[0] ?? "")])))).toBe(1);
    expect(times.size).toBe(ids.length);
    expect(times.get(ids[4] ?? "")?.get("sec_3")).toBe(4_002);
    expect(await writes(() => store.clients.recordSecretUse([]))).toBe(0);
    expect(await writes(() => store.clients.secretUse([]))).toBe(0);
    const clientId = ids[0] ?? "";
    const org = orgs[0] ?? "";
    expect(await writes(() => store.clients.update(org, clientId, (record) => withScope(record, "x")))).toBe(2);
    expect(await writes(() => store.state.compareAndSet("cas", undefined, new Uint8Array([1])))).toBe(1);
    expect(await writes(() => store.state.acquireLock("l", "me", 1_000))).toBe(1);
    expect(await writes(() => store.state.releaseLock("l", "me"))).toBe(1);
  });

  /** interfere makes the store's reads of a record race a write by another connection. */
  function interfere(org: string, clientId: string, times: number): void {
    const other = createRedisStore({ redis: raw, keyPrefix: prefix });
    const read: (key: string) => Promise<Buffer | null> = redis.getBuffer.bind(redis);
    let left = times;
    vi.spyOn(redis, "getBuffer").mockImplementation((async (key: string) => {
      const bytes = await read(key);
      if (left-- > 0) await other.clients.update(org, clientId, (record) => withScope(record, "theirs"));
      return bytes;
    }) as typeof redis.getBuffer);
  }

  it("update reads again and changes again when another writer got in between", async () => {
    await open();
    const org = newOrganizationId();
    const clientId = await created(org);
    interfere(org, clientId, 1);
    const change = vi.fn((record: ClientRecord) => withScope(record, "mine"));
    const updated = await store.clients.update(org, clientId, change);
    expect(change).toHaveBeenCalledTimes(2);
    expect(updated?.client?.scopes).toEqual(["read:things", "write:things", "theirs", "mine"]);
    expect((await store.clients.get(clientId))?.client?.scopes).toEqual(updated?.client?.scopes);
  });

  it("update gives up with UnavailableError when the record keeps changing, writing nothing of its own", async () => {
    await open();
    const org = newOrganizationId();
    const clientId = await created(org);
    interfere(org, clientId, Number.POSITIVE_INFINITY);
    const change = vi.fn((record: ClientRecord) => withScope(record, "mine"));
    await expect(store.clients.update(org, clientId, change)).rejects.toBeInstanceOf(UnavailableError);
    expect(change.mock.calls.length).toBeGreaterThan(1);
    const scopes = (await store.clients.get(clientId))?.client?.scopes ?? [];
    expect(scopes).not.toContain("mine");
    expect(scopes.filter((scope) => scope === "theirs")).toHaveLength(change.mock.calls.length);
  });

  it("update loses nothing when several connections update one client at once", async () => {
    await open();
    const org = newOrganizationId();
    const clientId = await created(org);
    const stores = Array.from({ length: 4 }, () => createRedisStore({ url: testRedisUrl(), keyPrefix: prefix }));
    try {
      await Promise.all(stores.map((other, i) => other.clients.update(org, clientId, (record) => withScope(record, `s${i}`))));
    } finally {
      await Promise.all(stores.map((other) => other.close()));
    }
    const scopes = (await store.clients.get(clientId))?.client?.scopes ?? [];
    expect([...scopes].sort()).toEqual(["read:things", "s0", "s1", "s2", "s3", "write:things"]);
  });

  it("keeps a lock as a state key that Redis expires, and refuses a ttl that is not a positive integer", async () => {
    await open();
    const lockKey = createKeyLayout(prefix).state("lock:rotate");
    expect(await store.state.acquireLock("rotate", "owner-a", 5_000)).toBe(true);
    expect(await raw.get(lockKey)).toBe("owner-a");
    const ttl = await raw.pttl(lockKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
    await store.state.releaseLock("rotate", "owner-a");
    expect(await raw.exists(lockKey)).toBe(0);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(store.state.acquireLock("rotate", "owner-a", bad)).rejects.toThrow(TypeError);
    }
  });
});
