import type { RedisClient } from "./redis-connection.js";
import type { StateStore } from "./client-store.js";
import type { KeyLayout } from "./key-layout.js";
import { available, toBuffer } from "./redis-calls.js";
import type { StoreScripts } from "./redis-scripts.js";

// Locks live among the state values, under names of their own.
const lockName = (name: string): string => `lock:${name}`;

/** createRedisStateStore returns the StateStore over `redis`, with `scripts` defined on it. Every method is one round trip. */
export function createRedisStateStore(redis: RedisClient, layout: KeyLayout, scripts: StoreScripts): StateStore {
  return {
    async get(name: string): Promise<Uint8Array | undefined> {
      const bytes = await available(redis, () => redis.getBuffer(layout.state(name)));
      return bytes === null ? undefined : new Uint8Array(bytes);
    },
    // MGET: one consistent read of several values (they share the `{state}` slot on a Cluster).
    async getMany(names) {
      if (names.length === 0) return [];
      const values = await available(redis, () => redis.mgetBuffer(...names.map((name) => layout.state(name))));
      return values.map((bytes) => (bytes === null ? undefined : new Uint8Array(bytes)));
    },
    async commit(change) {
      const expect = [...change.expect].map(([name, bytes]): [string, Buffer | undefined] => [
        layout.state(name),
        bytes === undefined ? undefined : toBuffer(bytes),
      ]);
      const set = [...(change.set ?? [])].map(([name, bytes]): [string, Buffer] => [layout.state(name), toBuffer(bytes)]);
      const remove = (change.remove ?? []).map((name) => layout.state(name));
      return (await available(redis, () => scripts.commit(expect, set, remove))) === 1;
    },
    async putField(name, field, value) {
      await available(redis, () => redis.hset(layout.state(name), field, toBuffer(value)));
    },
    async fields(name) {
      const stored = await available(redis, () => redis.hgetallBuffer(layout.state(name)));
      return new Map(Object.entries(stored).map(([field, bytes]) => [field, new Uint8Array(bytes)]));
    },
    // The script sets the value if absent and returns what is stored.
    async putIfAbsent(name: string, value: Uint8Array): Promise<Uint8Array> {
      const stored = await available(redis, () => scripts.putIfAbsent(layout.state(name), toBuffer(value)));
      return new Uint8Array(stored);
    },
    async put(name: string, value: Uint8Array): Promise<void> {
      await available(redis, () => redis.set(layout.state(name), toBuffer(value)));
    },
    async compareAndSet(name, expected, value) {
      const key = layout.state(name);
      const old = expected === undefined ? undefined : toBuffer(expected);
      return (await available(redis, () => scripts.compareAndSet(key, old, toBuffer(value)))) === 1;
    },
    // SET NX PX: taken only if free, and freed by Redis after ttlMs even if its owner dies.
    async acquireLock(name, owner, ttlMs) {
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new TypeError("ttlMs must be a positive integer");
      const key = layout.state(lockName(name));
      return (await available(redis, () => redis.set(key, owner, "PX", ttlMs, "NX"))) === "OK";
    },
    // The script deletes the lock only while `owner` holds it, never a later owner's.
    async releaseLock(name, owner) {
      await available(redis, () => scripts.releaseLock(layout.state(lockName(name)), owner));
    },
  };
}
