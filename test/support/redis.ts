import { randomBytes } from "node:crypto";
import { inject } from "vitest";

// Only the "redis" project's global setup provides these (vitest.config.ts); a file that reached
// this module in a way redis-users.ts cannot see would otherwise talk to `undefined`.
function provided(key: "redisUrl" | "runPrefix"): string {
  const value = inject(key);
  if (value === undefined) {
    throw new Error(
      `no shared Redis in this vitest project: import test/support/redis.ts statically (with a relative path) ` +
        `so that test/support/redis-users.ts puts the file in the "redis" project`,
    );
  }
  return value;
}

/** testRedisUrl is the real Redis every test talks to (see global-setup.ts). */
export function testRedisUrl(): string {
  return provided("redisUrl");
}

/** uniquePrefix is a key prefix of its own for one test or suite, inside this run's prefix. */
export function uniquePrefix(): string {
  return `${provided("runPrefix")}${randomBytes(4).toString("hex")}:`;
}

/** wipePrefix deletes every key under `prefix`, as a FLUSHDB would for a Redis holding one deployment; returns how many. */
export async function wipePrefix(redis: import("ioredis").Redis, prefix: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  return deleted;
}
