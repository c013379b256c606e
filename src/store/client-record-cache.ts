import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { ClientChangeFeed, ClientStore } from "./client-store.js";

/** ClientReader finds a client record by id: the one read on the token path. */
export type ClientReader = Pick<ClientStore, "get">;

/** ClientRecordCache is a ClientReader that remembers records for a moment; close() stops it. */
export interface ClientRecordCache extends ClientReader {
  /** holds says whether a get of `clientId` now would be answered from the copy, without a store read. */
  holds(clientId: string): boolean;
  /** close stops listening for changes; gets then read the store directly. */
  close(): Promise<void>;
}

/** ClientRecordCacheOptions configures createClientRecordCache. */
export interface ClientRecordCacheOptions {
  store: ClientReader;
  changes: ClientChangeFeed;
  /** maxAgeMs is how long a record is served without a fresh read; at most maxClientCacheMs. */
  maxAgeMs: number;
  /** maxEntries bounds the memory used; the oldest entries go first. Default 10,000. */
  maxEntries?: number;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
}

/**
 * maxClientCacheMs bounds how long a deleted client, deleted secret or narrowed scope may keep
 * working on an instance whose change feed failed silently: the cache's age limit stays under it.
 */
export const maxClientCacheMs = 1_000;

interface Entry {
  record: ClientRecord;
  fetchedAt: number;
}

// Records are shared by every request that reads them from the cache: freeze them, so a change
// made by mistake throws instead of leaking into other requests. Byte arrays cannot be frozen
// (and nothing on the token path writes to a hash).
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}

/**
 * createClientRecordCache returns a process-local cache of client records for the token path.
 * Entries are dropped the moment the change feed announces a write to their client, all at once
 * when the feed goes down (nothing is cached until it is back), and in any case after maxAgeMs.
 * A read that raced a change is served but not cached. Absent clients are never cached, so a new
 * client works at once.
 */
export function createClientRecordCache(options: ClientRecordCacheOptions): ClientRecordCache {
  const { store, changes } = options;
  const maxAgeMs = options.maxAgeMs;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs <= 0 || maxAgeMs > maxClientCacheMs) {
    throw new TypeError(`createClientRecordCache: options.maxAgeMs must be in (0, ${maxClientCacheMs}]`);
  }
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new TypeError("createClientRecordCache: options.maxEntries must be a positive integer");
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const reading = new Map<string, Promise<ClientRecord | undefined>>();
  let live = false;
  // Bumped by every change and every change of liveness: a read that saw it move is not cached.
  let generation = 0;

  const stop = changes.listen({
    changed(clientId) {
      generation++;
      entries.delete(clientId);
      reading.delete(clientId);
    },
    live(value) {
      generation++;
      live = value;
      entries.clear();
      reading.clear();
    },
  });

  function read(clientId: string): Promise<ClientRecord | undefined> {
    const started = generation;
    const fetchedAt = now();
    const pending = store.get(clientId).then(
      (record) => {
        if (reading.get(clientId) === pending) reading.delete(clientId);
        if (record !== undefined && live && generation === started) {
          entries.delete(clientId);
          entries.set(clientId, { record: deepFreeze(record), fetchedAt });
          if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
        }
        return record;
      },
      (err: unknown) => {
        if (reading.get(clientId) === pending) reading.delete(clientId);
        throw err;
      },
    );
    // Concurrent misses for one client share one read.
    reading.set(clientId, pending);
    return pending;
  }

  return {
    holds(clientId) {
      const entry = live ? entries.get(clientId) : undefined;
      return entry !== undefined && now() - entry.fetchedAt < maxAgeMs;
    },
    async get(clientId) {
      if (!live) return store.get(clientId);
      const entry = entries.get(clientId);
      if (entry !== undefined) {
        if (now() - entry.fetchedAt < maxAgeMs) return entry.record;
        entries.delete(clientId);
      }
      return reading.get(clientId) ?? read(clientId);
    },
    async close() {
      live = false;
      entries.clear();
      reading.clear();
      await stop();
    },
  };
}
