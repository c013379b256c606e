import type { Store } from "./client-store.js";
import { createKeyLayout } from "./key-layout.js";
import { available, circuitOf } from "./redis-calls.js";
import { createRedisChangeFeed } from "./redis-change-feed.js";
import { createRedisClientStore } from "./redis-client-store.js";
import { createRedisConnection, keepConnected, pingDeployment, type RedisClient, type RedisConnectionOptions } from "./redis-connection.js";
import { hasKeyMatching, readEvictionPolicies } from "./redis-deployment.js";
import { defineStoreScripts } from "./redis-scripts.js";
import { createRedisFailureLimiter } from "./redis-failure-limiter.js";
import { createRedisResourceServerStore } from "./redis-resource-server-store.js";
import { createRedisRevocationStore } from "./redis-revocation-store.js";
import { createRedisStateStore } from "./redis-state-store.js";

/** RedisStoreOptions configures createRedisStore: give one of `url`, `connection` or `redis`, and `keyPrefix`. */
export interface RedisStoreOptions {
  /** url opens a single-node connection of the store's own (e.g. `redis://127.0.0.1:6379`), closed by close(). */
  url?: string;
  /** connection opens a connection of the store's own to a single node, a Cluster or a Sentinel-guarded primary. */
  connection?: RedisConnectionOptions;
  /**
   * redis is an existing client (plain, Sentinel or Cluster) to use; the caller owns it, close()
   * leaves it open. Make it with createRedisConnection's options to keep commands failing fast,
   * and keep it connected with keepConnected.
   */
  redis?: RedisClient;
  /** keyPrefix starts every key the store writes (e.g. `m2m:`), so one Redis can hold several. */
  keyPrefix: string;
  /**
   * timeoutMs bounds each connection attempt and command of the connection the store opens
   * (M2M_STORE_TIMEOUT_MS; default 500); with `redis`, that client's own commandTimeout applies.
   */
  timeoutMs?: number | undefined;
}

/** createRedisStore returns the Redis backend; it throws TypeError for missing or conflicting options. */
export function createRedisStore(options: RedisStoreOptions): Store {
  if (typeof options.keyPrefix !== "string" || options.keyPrefix === "") {
    throw new TypeError("createRedisStore: keyPrefix is required");
  }
  // A brace in the prefix would make it every key's hash tag: all data in one Cluster slot.
  if (/[{}]/.test(options.keyPrefix)) throw new TypeError("createRedisStore: keyPrefix must not contain { or } (hash tags)");
  const given = [options.url, options.connection, options.redis].filter((option) => option !== undefined);
  if (given.length > 1) throw new TypeError("createRedisStore: give one of url, connection and redis");
  if (given.length === 0 || options.url === "") throw new TypeError("createRedisStore: url, connection or redis is required");
  const owned = options.redis === undefined;
  if (!owned && options.timeoutMs !== undefined)
    throw new TypeError("createRedisStore: timeoutMs is for a connection the store opens; give it to createRedisConnection");
  const target: RedisConnectionOptions = options.connection ?? { kind: "single", url: options.url ?? "" };
  const redis = options.redis ?? createRedisConnection(options.timeoutMs === undefined ? target : { ...target, timeoutMs: options.timeoutMs });
  // A connection of the store's own is its to keep up until close(); a caller's is the caller's.
  const stopKeeping = owned ? keepConnected(redis) : () => {};
  const layout = createKeyLayout(options.keyPrefix);
  const scripts = defineStoreScripts(redis);
  const changes = createRedisChangeFeed(redis, layout.clientChanges);
  return {
    clients: createRedisClientStore(redis, layout, scripts, (clientId) => changes.wrote(clientId)),
    state: createRedisStateStore(redis, layout, scripts),
    revocations: createRedisRevocationStore(redis, layout),
    failures: createRedisFailureLimiter(redis, layout),
    resourceServers: createRedisResourceServerStore(redis, layout),
    changes,
    async ping(): Promise<void> {
      await available(redis, () => pingDeployment(redis));
    },
    async empty(): Promise<boolean> {
      return !(await available(redis, () => hasKeyMatching(redis, layout.match)));
    },
    evictionPolicies: () => available(redis, () => readEvictionPolicies(redis)),
    onHealth: (listener) => circuitOf(redis).onChange(listener),
    async close(): Promise<void> {
      stopKeeping();
      await changes.close();
      if (!owned || redis.status === "end") return;
      // Not connected, there is nothing to flush, and QUIT would only wait out commandTimeout.
      if (redis.status !== "ready") {
        redis.disconnect();
        return;
      }
      // QUIT lets queued writes finish first; if it fails (Redis went away meanwhile) the
      // sockets are dropped instead.
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
