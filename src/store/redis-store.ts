import type { Redis } from "ioredis";
import type { Store } from "./client-store.js";
import { createKeyLayout } from "./key-layout.js";
import { available } from "./redis-calls.js";
import { createRedisClientStore } from "./redis-client-store.js";
import { createRedisConnection } from "./redis-connection.js";
import { defineStoreScripts } from "./redis-scripts.js";
import { createRedisStateStore } from "./redis-state-store.js";

/** RedisStoreOptions configures createRedisStore: give `url` or `redis`, and `keyPrefix`. */
export interface RedisStoreOptions {
  /** url opens a connection of the store's own (e.g. `redis://127.0.0.1:6379`), closed by close(). */
  url?: string;
  /** redis is an existing client to use; the caller owns it and its options, close() leaves it open. */
  redis?: Redis;
  /** keyPrefix starts every key the store writes (e.g. `m2m:`), so one Redis can hold several. */
  keyPrefix: string;
}

/** createRedisStore returns the Redis backend; it throws TypeError for missing or conflicting options. */
export function createRedisStore(options: RedisStoreOptions): Store {
  if (typeof options.keyPrefix !== "string" || options.keyPrefix === "") {
    throw new TypeError("createRedisStore: keyPrefix is required");
  }
  if (options.url !== undefined && options.redis !== undefined) {
    throw new TypeError("createRedisStore: give url or redis, not both");
  }
  if (options.redis === undefined && !options.url) {
    throw new TypeError("createRedisStore: url or redis is required");
  }
  const owned = options.redis === undefined;
  const redis = options.redis ?? createRedisConnection(options.url ?? "");
  const layout = createKeyLayout(options.keyPrefix);
  const scripts = defineStoreScripts(redis);
  return {
    clients: createRedisClientStore(redis, layout, scripts),
    state: createRedisStateStore(redis, layout, scripts),
    async ping(): Promise<void> {
      await available(() => redis.ping());
    },
    async close(): Promise<void> {
      if (!owned || redis.status === "end") return;
      // QUIT lets queued writes finish first; when Redis is unreachable it fails fast (or
      // resolves at once with nothing queued), and the socket is dropped instead.
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
