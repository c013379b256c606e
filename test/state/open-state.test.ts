import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isAdminDisabled, newBootstrapAdmin } from "../../src/clients/admin-client.js";
import { createSecretHasher } from "../../src/clients/secret-hasher.js";
import { newKeyRingBytes } from "../../src/keys/first-ring.js";
import { openState, type OpenStateOptions } from "../../src/state/open-state.js";
import { restoreCandidatesStateName } from "../../src/state/restore-candidate.js";
import { parseStoreMarker } from "../../src/state/store-marker.js";
import { StoreStateError } from "../../src/state/store-state-error.js";
import { readStateParts, statePartNames } from "../../src/state/state-values.js";
import type { Store } from "../../src/store/client-store.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { recordingLogger } from "../keys/logger.js";
import { makeRecord, newOrganizationId } from "../store/client-record-fixtures.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";

// How a process finds the issuer's state at start, against a real Redis: made once on an empty
// prefix, migrated from an earlier version, and never made again once part of it is gone.

const opened: Store[] = [];
let raw: Redis;
beforeAll(() => {
  raw = new Redis(testRedisUrl());
});
afterAll(async () => {
  await raw.quit();
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function stores(count: number, keyPrefix = uniquePrefix()): Store[] {
  const made = Array.from({ length: count }, () => createRedisStore({ url: testRedisUrl(), keyPrefix }));
  opened.push(...made);
  return made;
}

const open = (store: Store, options: Partial<OpenStateOptions> = {}) =>
  openState({
    store,
    configuredHashKey: undefined,
    alg: "ES256",
    encryptionKey: undefined,
    adminConfigured: false,
    allowEvictingStore: false,
    now: Date.now,
    logger: recordingLogger(),
    ...options,
  });

// What an earlier version left in the store: a secret-hash key, a ring, and the bootstrap admin
// unless admin credentials were configured.
async function writeLegacyState(store: Store, withAdmin: boolean): Promise<{ hashKey: Uint8Array; ring: Uint8Array; admin?: Uint8Array }> {
  const hashKey = new Uint8Array(randomBytes(32));
  const ring = await newKeyRingBytes("ES256", undefined, Date.now());
  await store.state.put(statePartNames.hashKey, hashKey);
  await store.state.put(statePartNames.ring, ring);
  if (!withAdmin) return { hashKey, ring };
  const admin = newBootstrapAdmin(createSecretHasher({ key: hashKey }), Date.now()).stored;
  await store.state.put(statePartNames.admin, admin);
  return { hashKey, ring, admin };
}

async function refusal(promise: Promise<unknown>): Promise<StoreStateError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreStateError);
  return err as StoreStateError;
}

describe("opening the issuer's state", () => {
  it("initializes an empty prefix in one step, and later starts reuse what it made", async () => {
    const [store] = stores(1);
    const first = await open(store!);
    expect(first.credentials?.clientId).toMatch(/^m2madmin_/);
    expect(first.info).toMatchObject({ format: 1, origin: "initialized", secretHashKey: "stored" });
    const parts = await readStateParts(store!.state);
    expect(Object.values(parts).every((part) => part !== undefined)).toBe(true);
    expect(Buffer.from(parts.marker!).equals(first.marker)).toBe(true);
    const again = await open(store!);
    expect(again.credentials).toBeUndefined();
    expect(Buffer.from(again.marker).equals(first.marker)).toBe(true);
    expect(Buffer.from(again.hashKey).equals(first.hashKey)).toBe(true);
  });

  it("agrees on one state when instances start at once on an empty prefix: one prints credentials", async () => {
    const all = await Promise.all(stores(6).map((store) => open(store)));
    expect(new Set(all.map((state) => Buffer.from(state.marker).toString("hex"))).size).toBe(1);
    expect(new Set(all.map((state) => Buffer.from(state.hashKey).toString("hex"))).size).toBe(1);
    expect(all.filter((state) => state.credentials !== undefined)).toHaveLength(1);
  });

  it("writes a marker for an earlier version's state, keeping its key, ring and admin", async () => {
    const [store] = stores(1);
    const legacy = await writeLegacyState(store!, true);
    const logger = recordingLogger();
    const state = await open(store!, { logger });
    expect(state.info.origin).toBe("migrated");
    expect(state.credentials).toBeUndefined();
    expect(Buffer.from(state.hashKey).equals(legacy.hashKey)).toBe(true);
    const parts = await readStateParts(store!.state);
    expect(Buffer.from(parts.ring!).equals(legacy.ring)).toBe(true);
    expect(Buffer.from(parts.admin!).equals(legacy.admin!)).toBe(true);
    expect(JSON.stringify(logger.lines)).toContain("wrote the store marker");
    expect(Buffer.from((await open(store!)).marker).equals(state.marker)).toBe(true);
  });

  it("migrates an earlier version's state whose admin was configured with a disabled stored admin", async () => {
    const [store] = stores(1);
    await writeLegacyState(store!, false);
    const state = await open(store!, { adminConfigured: true });
    expect(isAdminDisabled(state.admin)).toBe(true);
    expect(state.credentials).toBeUndefined();
  });

  it("refuses part of a state without a marker, and writes nothing", async () => {
    const [store] = stores(1);
    await store!.state.put(statePartNames.ring, await newKeyRingBytes("ES256", undefined, Date.now()));
    const err = await refusal(open(store!));
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/part of the issuer's state \(signing key ring\).*misses secret-hash key/);
    expect(err.message).toContain("npm run store:init -- --restore");
    expect((await readStateParts(store!.state)).marker).toBeUndefined();
  });

  it("refuses client data without any state: it is never made again beside them", async () => {
    const [store] = stores(1);
    await store!.clients.create(makeRecord(newOrganizationId()));
    expect((await refusal(open(store!))).message).toMatch(/holds data under its key prefix but no issuer state/);
    expect((await readStateParts(store!.state)).marker).toBeUndefined();
  });

  it("refuses a marked state with a part missing", async () => {
    const [store] = stores(1);
    await open(store!);
    await store!.state.commit({ expect: new Map(), remove: [statePartNames.admin] });
    expect((await refusal(open(store!))).message).toMatch(/incomplete: admin client missing/);
  });

  it("refuses a wiped prefix where instances offered their copies", async () => {
    const [store] = stores(1);
    await store!.state.putField(restoreCandidatesStateName, "instance-a", new Uint8Array([1]));
    expect((await refusal(open(store!))).message).toMatch(/lost the issuer's state while 1 instance\(s\) ran/);
    expect((await readStateParts(store!.state)).marker).toBeUndefined();
  });

  it("keeps a configured secret-hash key out of the store, and requires that key afterwards", async () => {
    const keyPrefix = uniquePrefix();
    const [store] = stores(1, keyPrefix);
    const key = new Uint8Array(randomBytes(32));
    const state = await open(store!, { configuredHashKey: key });
    expect(state.info.secretHashKey).toBe("configured");
    expect(Buffer.from(state.hashKey).equals(key)).toBe(true);
    expect(await raw.exists(createKeyLayout(keyPrefix).state(statePartNames.hashKey))).toBe(0);
    expect(await open(store!, { configuredHashKey: key })).toMatchObject({ info: { generation: state.info.generation } });
    const missing = await refusal(open(store!));
    expect([missing.exitCode, missing.message]).toEqual([2, "this store's secret-hash key is configured: set M2M_SECRET_HASH_KEY"]);
    const other = await refusal(open(store!, { configuredHashKey: new Uint8Array(randomBytes(32)) }));
    expect(other.exitCode).toBe(2);
    expect(other.message).toMatch(/not the key this store was initialized with/);
  });

  it("refuses a configured secret-hash key that differs from the stored one", async () => {
    const keyPrefix = uniquePrefix();
    const [store] = stores(1, keyPrefix);
    const state = await open(store!);
    expect(await raw.exists(createKeyLayout(keyPrefix).state(statePartNames.hashKey))).toBe(1);
    const err = await refusal(open(store!, { configuredHashKey: new Uint8Array(randomBytes(32)) }));
    expect(err.exitCode).toBe(2);
    // The stored key itself, configured, is accepted.
    expect((await open(store!, { configuredHashKey: state.hashKey })).info.generation).toBe(state.info.generation);
  });

  it("refuses a stored secret-hash key that is not the marker's", async () => {
    const [store] = stores(1);
    await open(store!);
    await store!.state.put(statePartNames.hashKey, new Uint8Array(randomBytes(32)));
    expect((await refusal(open(store!))).message).toMatch(/not the one the store marker names/);
  });

  it("reads its own marker format only", () => {
    expect(() => parseStoreMarker(new TextEncoder().encode('{"format":2}'))).toThrow(StoreStateError);
  });
});
