import { UnavailableError } from "../errors.js";
import { createMemoryFailureLimiter } from "./failure-limiter.js";
import type { StateStore, Store } from "./client-store.js";
import { createMemoryClientStore } from "./memory-client-store.js";
import { createMemoryResourceServerStore } from "./memory-resource-server-store.js";
import { createMemoryRevocationStore } from "./memory-revocation-store.js";

// The memory backend is for tests and single-process development. It keeps the same bytes and
// index members as the Redis backend, so what passes here behaves the same against Redis.
function createMemoryStateStore(assertOpen: () => void, now: () => number): StateStore & { readonly size: () => number } {
  const values = new Map<string, Uint8Array>();
  const maps = new Map<string, Map<string, Uint8Array>>();
  const locks = new Map<string, { owner: string; until: number }>();
  const same = (current: Uint8Array | undefined, expected: Uint8Array | undefined): boolean =>
    current === undefined || expected === undefined ? current === expected : Buffer.from(current).equals(expected);
  // Values are copied in and out (new Uint8Array, not slice: Buffer#slice shares memory), so no
  // caller shares bytes with the store or another caller.
  return {
    size: () => values.size + maps.size,
    async get(name: string): Promise<Uint8Array | undefined> {
      assertOpen();
      const value = values.get(name);
      return value === undefined ? undefined : new Uint8Array(value);
    },
    async getMany(names) {
      assertOpen();
      return names.map((name) => {
        const value = values.get(name);
        return value === undefined ? undefined : new Uint8Array(value);
      });
    },
    async commit(change) {
      assertOpen();
      for (const [name, expected] of change.expect) {
        if (expected === undefined ? values.has(name) || maps.has(name) : !same(values.get(name), expected)) return false;
      }
      for (const [name, value] of change.set ?? []) values.set(name, new Uint8Array(value));
      for (const name of change.remove ?? []) {
        values.delete(name);
        maps.delete(name);
      }
      return true;
    },
    async putField(name, field, value) {
      assertOpen();
      const map = maps.get(name) ?? new Map<string, Uint8Array>();
      map.set(field, new Uint8Array(value));
      maps.set(name, map);
    },
    async fields(name) {
      assertOpen();
      return new Map([...(maps.get(name) ?? [])].map(([field, value]) => [field, new Uint8Array(value)]));
    },
    async putIfAbsent(name: string, value: Uint8Array): Promise<Uint8Array> {
      assertOpen();
      if (!values.has(name)) values.set(name, new Uint8Array(value));
      return new Uint8Array(values.get(name) ?? value);
    },
    async put(name: string, value: Uint8Array): Promise<void> {
      assertOpen();
      values.set(name, new Uint8Array(value));
    },
    async compareAndSet(name, expected, value) {
      assertOpen();
      if (!same(values.get(name), expected)) return false;
      values.set(name, new Uint8Array(value));
      return true;
    },
    async acquireLock(name, owner, ttlMs) {
      assertOpen();
      const held = locks.get(name);
      if (held !== undefined && held.until > now()) return false;
      locks.set(name, { owner, until: now() + ttlMs });
      return true;
    },
    async releaseLock(name, owner) {
      assertOpen();
      if (locks.get(name)?.owner === owner) locks.delete(name);
    },
  };
}

/** MemoryStoreOptions configures createMemoryStore. */
export interface MemoryStoreOptions {
  /** now returns the time in ms that expiries (kept create answers, locks, revocations) follow; a fake clock in tests. Default Date.now. */
  now?: () => number;
}

/** createMemoryStore returns an in-process backend that behaves like the Redis one; nothing persists. */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  // Redis expires keys by its own clock; here the injected one stands in for it.
  const now = options.now ?? Date.now;
  let closed = false;
  // After close it fails as Redis does, so code that uses a closed store is caught in tests too.
  const assertOpen = (): void => {
    if (closed) throw new UnavailableError(undefined, { cause: new Error("the memory store is closed") });
  };
  const clients = createMemoryClientStore(assertOpen, now);
  const state = createMemoryStateStore(assertOpen, now);
  const resourceServers = createMemoryResourceServerStore(assertOpen);
  return {
    clients,
    state,
    revocations: createMemoryRevocationStore(assertOpen, now),
    failures: createMemoryFailureLimiter(assertOpen),
    resourceServers,
    async ping(): Promise<void> {
      assertOpen();
    },
    async empty(): Promise<boolean> {
      assertOpen();
      return clients.size() === 0 && state.size() === 0 && resourceServers.size() === 0;
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
