import type { Redis } from "ioredis";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { withRedis } from "../redis.js";

// Redis memory, read two ways: the whole server's used_memory around the registration (honest
// about overheads, but it also counts whatever else writes to a shared Redis meanwhile), and
// MEMORY USAGE of the keys themselves (exact for what one client costs, blind to the rest).

/** MemorySnapshot is the whole Redis server's memory and key count at one moment. */
export interface MemorySnapshot {
  usedMemory: number;
  keys: number;
}

/** KeyMemory is what a client's own keys cost, in bytes, as MEMORY USAGE counts them. */
export interface KeyMemory {
  /** recordBytes is the median MEMORY USAGE of the sampled client records (key, value, overhead). */
  recordBytes: number;
  /** recordValueBytes is the median STRLEN of those records: the protobuf bytes alone. */
  recordValueBytes: number;
  /** recordsSampled is how many records the medians are over. */
  recordsSampled: number;
  /** indexBytes is MEMORY USAGE of the organization's index (all of it), and its encoding. */
  indexBytes: number;
  indexEncoding: string;
  /** indexEntries is ZCARD of the index. */
  indexEntries: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** memorySnapshot reads used_memory and DBSIZE. */
export function memorySnapshot(url: string): Promise<MemorySnapshot> {
  return withRedis(url, async (redis) => {
    const match = /^used_memory:(\d+)/m.exec(await redis.info("memory"));
    return { usedMemory: Number(match?.[1] ?? 0), keys: await redis.dbsize() };
  });
}

/** memoryUsage is MEMORY USAGE of `key` counting every element (SAMPLES 0), or 0 if there is none. */
async function memoryUsage(redis: Redis, key: string): Promise<number> {
  return Number((await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0")) ?? 0);
}

/** keyMemory measures the records of `clientIds` and the index of `organizationId` under `keyPrefix`. */
export function keyMemory(url: string, keyPrefix: string, organizationId: string, clientIds: readonly string[]): Promise<KeyMemory> {
  const layout = createKeyLayout(keyPrefix);
  return withRedis(url, async (redis) => {
    const usage: number[] = [];
    const lengths: number[] = [];
    for (const clientId of clientIds) {
      usage.push(await memoryUsage(redis, layout.client(clientId)));
      lengths.push(await redis.strlen(layout.client(clientId)));
    }
    const index = layout.organizationIndex(organizationId);
    return {
      recordBytes: median(usage),
      recordValueBytes: median(lengths),
      recordsSampled: clientIds.length,
      indexBytes: await memoryUsage(redis, index),
      indexEncoding: String(await redis.call("OBJECT", "ENCODING", index)),
      indexEntries: await redis.zcard(index),
    };
  });
}

/** secretUseBytes is the median MEMORY USAGE of the secret-use hashes of `clientIds` that have one: what a client costs once it has issued a token. */
export function secretUseBytes(url: string, keyPrefix: string, clientIds: readonly string[]): Promise<number | undefined> {
  const layout = createKeyLayout(keyPrefix);
  return withRedis(url, async (redis) => {
    const usage: number[] = [];
    for (const clientId of clientIds) {
      const bytes = await memoryUsage(redis, layout.secretUse(clientId));
      if (bytes > 0) usage.push(bytes);
    }
    return usage.length === 0 ? undefined : median(usage);
  });
}
