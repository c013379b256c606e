import { Redis } from "ioredis";

// The bench's own view of Redis: find one, read its command counters, clean up its keys.

/** CommandStats is the calls counted by `INFO commandstats`, in all and by command. */
export interface CommandStats {
  total: number;
  byName: Record<string, number>;
}

/** connect opens a short-lived client that fails fast instead of retrying. */
async function connect(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableReadyCheck: false, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  await redis.connect();
  return redis;
}

/** withRedis runs `use` on a fresh client to `url` and closes it afterwards. */
export async function withRedis<T>(url: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = await connect(url);
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** findRedis returns REDIS_URL, else redis://127.0.0.1:6379 if it answers PING, else undefined. */
export async function findRedis(): Promise<string | undefined> {
  const url = process.env["REDIS_URL"] || "redis://127.0.0.1:6379";
  try {
    return (await withRedis(url, (redis) => redis.ping())) === "PONG" ? url : undefined;
  } catch {
    if (process.env["REDIS_URL"]) throw new Error(`REDIS_URL ${url} does not answer PING`);
    return undefined;
  }
}

/** commandStats reads `INFO commandstats`: every client's commands, not only the bench's. */
export function commandStats(url: string): Promise<CommandStats> {
  return withRedis(url, async (redis) => {
    const stats: CommandStats = { total: 0, byName: {} };
    for (const line of (await redis.info("commandstats")).split("\n")) {
      const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
      if (!match) continue;
      stats.byName[match[1] as string] = Number(match[2]);
      stats.total += Number(match[2]);
    }
    return stats;
  });
}

/** statsDelta is what was counted between two snapshots, less `own`: the calls that took them. */
export function statsDelta(before: CommandStats, after: CommandStats, own: Record<string, number> = {}): CommandStats {
  const byName: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after.byName)) {
    const delta = calls - (before.byName[name] ?? 0) - (own[name] ?? 0);
    if (delta > 0) byName[name] = delta;
  }
  return { total: Object.values(byName).reduce((a, b) => a + b, 0), byName };
}

/** deletePrefix deletes every key under `prefix` and returns how many there were. */
export function deletePrefix(url: string, prefix: string): Promise<number> {
  return withRedis(url, async (redis) => {
    let cursor = "0";
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== "0");
    return deleted;
  });
}

// Prefixes in use, so an interrupted bench still deletes what it wrote.
const claimed = new Map<string, string>();

/** claimPrefix records `prefix` as the bench's; the function it returns deletes its keys. */
export function claimPrefix(url: string, prefix: string): () => Promise<number> {
  claimed.set(prefix, url);
  return async () => {
    try {
      return await deletePrefix(url, prefix);
    } finally {
      claimed.delete(prefix);
    }
  };
}

/** deleteClaimedPrefixes deletes the keys of every prefix still claimed; for an interrupted run. */
export async function deleteClaimedPrefixes(): Promise<void> {
  await Promise.allSettled([...claimed].map(([prefix, url]) => deletePrefix(url, prefix)));
}
