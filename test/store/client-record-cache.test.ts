import { create } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SecretHashSchema, type ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { createClientRecordCache, type ClientReader } from "../../src/store/client-record-cache.js";
import type { Store } from "../../src/store/client-store.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { makeRecord, newClientId, newOrganizationId } from "./client-record-fixtures.js";

// The token path's record cache over real Redis: another instance's writes reach it through the
// change feed at once, this process's own writes even sooner, a lost subscription empties it,
// and no copy outlives its age limit.

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, withinMs: number, what: string): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await pause(5);
  }
  return performance.now() - start;
}

let raw: Redis;
const opened: { close(): Promise<void> }[] = [];

beforeAll(() => {
  raw = new Redis(testRedisUrl());
});
afterAll(async () => {
  await raw.quit();
});
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

/** instances returns two stores on one prefix (two processes, in effect) and a cache over the first. */
async function instances(maxAgeMs = 1_000, reader?: (store: Store) => ClientReader) {
  const prefix = uniquePrefix();
  const mine = createRedisStore({ url: testRedisUrl(), keyPrefix: prefix });
  const other = createRedisStore({ url: testRedisUrl(), keyPrefix: prefix });
  opened.push(mine, other);
  const cache = createClientRecordCache({ store: reader?.(mine) ?? mine.clients, changes: mine.changes!, maxAgeMs });
  opened.push(cache);
  // Live once the subscription is confirmed: a silent change is then served from the copy.
  const layout = createKeyLayout(prefix);
  await until(async () => Number(((await raw.call("PUBSUB", "NUMSUB", layout.clientChanges)) as [string, number])[1]) > 0, 5_000, "subscribed");
  return { prefix, layout, mine, other, cache };
}

async function seed(store: Store): Promise<ClientRecord> {
  const record = makeRecord(newOrganizationId());
  await store.clients.create(record);
  return record;
}

/** silently replaces a record's bytes without announcing it, as only a bug or an operator could. */
async function silently(layout: ReturnType<typeof createKeyLayout>, record: ClientRecord, name: string): Promise<void> {
  const { encodeRecord } = await import("../../src/store/client-record-codec.js");
  const changed = structuredClone(record);
  changed.client!.name = name;
  await raw.set(layout.client(record.client!.clientId), Buffer.from(encodeRecord(changed)));
}

describe("client record cache", () => {
  it("serves a copy until its age limit, and never caches an absent client", async () => {
    const { layout, mine, cache } = await instances(300);
    const record = await seed(mine);
    const id = record.client!.clientId;
    expect((await cache.get(id))?.client?.name).toBe(record.client?.name);
    await silently(layout, record, "changed behind the cache's back");
    expect((await cache.get(id))?.client?.name).toBe(record.client?.name);
    await until(async () => (await cache.get(id))?.client?.name === "changed behind the cache's back", 1_000, "copy expired");
    const lateOrg = newOrganizationId();
    const lateId = newClientId(lateOrg);
    expect(await cache.get(lateId)).toBeUndefined();
    await mine.clients.create(makeRecord(lateOrg, { clientId: lateId }));
    expect((await cache.get(lateId))?.client?.clientId).toBe(lateId);
  });

  it("drops a copy as soon as another instance deletes the client, deletes a secret or narrows its scopes", async () => {
    const { mine, other, cache } = await instances(1_000);
    const record = await seed(mine);
    const { clientId, organizationId } = record.client!;
    await cache.get(clientId);
    await other.clients.update(organizationId, clientId, (current) => {
      current.client!.scopes = ["read:things"];
      return current;
    });
    const narrowed = await until(async () => (await cache.get(clientId))?.client?.scopes.length === 1, 900, "scope change seen");
    await other.clients.update(organizationId, clientId, (current) => {
      current.secretHashes = [create(SecretHashSchema, { secretId: "sec_2", hash: new Uint8Array(32) })];
      return current;
    });
    const rotated = await until(async () => (await cache.get(clientId))?.secretHashes[0]?.secretId === "sec_2", 900, "secret change seen");
    await other.clients.delete(organizationId, clientId);
    const deleted = await until(async () => (await cache.get(clientId)) === undefined, 900, "delete seen");
    // Well inside the 1 s age limit: the change feed, not expiry, dropped each copy.
    expect(Math.max(narrowed, rotated, deleted)).toBeLessThan(500);
  });

  it("reads this process's own writes at once", async () => {
    const { mine, cache } = await instances(1_000);
    const record = await seed(mine);
    const { clientId, organizationId } = record.client!;
    await cache.get(clientId);
    await mine.clients.update(organizationId, clientId, (current) => {
      current.client!.scopes = [];
      return current;
    });
    expect((await cache.get(clientId))?.client?.scopes).toEqual([]);
    await mine.clients.delete(organizationId, clientId);
    expect(await cache.get(clientId)).toBeUndefined();
  });

  it("empties itself when its subscription drops, and caches again once it is back", async () => {
    const { layout, mine, cache } = await instances(1_000);
    const record = await seed(mine);
    const id = record.client!.clientId;
    await cache.get(id);
    await silently(layout, record, "changed while the feed was down");
    const list = (await raw.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
    const ours = list.split("\n").filter((line) => line.includes(` name=${layout.clientChanges} `));
    expect(ours).toHaveLength(1);
    await raw.call("CLIENT", "KILL", "ID", /id=(\d+)/.exec(ours[0]!)![1]!);
    await until(async () => (await cache.get(id))?.client?.name === "changed while the feed was down", 300, "flushed on drop");
    // Back and caching: a silent change is again hidden until the copy's age runs out.
    await until(async () => Number(((await raw.call("PUBSUB", "NUMSUB", layout.clientChanges)) as [string, number])[1]) > 0, 5_000, "resubscribed");
    await pause(50);
    await cache.get(id);
    await silently(layout, record, "hidden by the copy");
    expect((await cache.get(id))?.client?.name).toBe("changed while the feed was down");
  });

  it("does not keep a read that raced a change, and shares one read among concurrent misses", async () => {
    let reads = 0;
    let hold: Promise<void> | undefined;
    const { mine, other, cache } = await instances(1_000, (store) => ({
      async get(clientId) {
        reads++;
        const record = await store.clients.get(clientId);
        await hold;
        return record;
      },
    }));
    const record = await seed(mine);
    const { clientId, organizationId } = record.client!;
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const racing = Promise.all([cache.get(clientId), cache.get(clientId), cache.get(clientId)]);
    await other.clients.update(organizationId, clientId, (current) => {
      current.client!.name = "changed during the read";
      return current;
    });
    await pause(100);
    release();
    hold = undefined;
    const seen = await racing;
    expect(reads).toBe(1);
    expect(seen.map((r) => r?.client?.name)).toEqual([record.client?.name, record.client?.name, record.client?.name]);
    expect((await cache.get(clientId))?.client?.name).toBe("changed during the read");
    expect(reads).toBe(2);
    expect((await cache.get(clientId))?.client?.name).toBe("changed during the read");
    expect(reads).toBe(2);
  });

  it("hands out frozen records and refuses an age limit past one second", async () => {
    const { mine, cache } = await instances(1_000);
    const record = await seed(mine);
    await cache.get(record.client!.clientId);
    const copy = (await cache.get(record.client!.clientId)) as ClientRecord;
    expect(Object.isFrozen(copy.client?.scopes)).toBe(true);
    expect(() => copy.client!.scopes.push("admin")).toThrow(TypeError);
    const changes = mine.changes!;
    for (const maxAgeMs of [0, -1, 1_001, Number.NaN]) {
      expect(() => createClientRecordCache({ store: mine.clients, changes, maxAgeMs })).toThrow(/maxAgeMs/);
    }
  });
});
