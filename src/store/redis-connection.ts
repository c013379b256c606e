import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

// Fail closed: when Redis is down a command must fail within seconds, so the service answers
// "temporarily unavailable" instead of holding requests (and their sockets) open indefinitely.

/** connectTimeoutMs bounds one connection attempt, e.g. to a host that drops packets. */
export const connectTimeoutMs = 2_000;
/** commandTimeoutMs bounds one command, including its time queued while reconnecting. */
export const commandTimeoutMs = 2_000;
const maxReconnectDelayMs = 1_000;

/** RedisNode is one `host:port` of a Cluster seed list or a Sentinel set. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/**
 * RedisConnectionOptions says which Redis deployment to use: a single node by URL, a Cluster by
 * seed nodes, or a primary guarded by Sentinels. Exactly one `kind`; config.ts reads it from env.
 */
export type RedisConnectionOptions = (
  | { readonly kind: "single"; readonly url: string }
  | { readonly kind: "cluster"; readonly nodes: readonly RedisNode[] }
  | { readonly kind: "sentinel"; readonly sentinels: readonly RedisNode[]; readonly name: string }
) & {
  /** password authenticates to the data nodes (REDIS_PASSWORD); a single node's URL may carry its own. */
  readonly password?: string | undefined;
  /** sentinelPassword authenticates to the Sentinels themselves (REDIS_SENTINEL_PASSWORD). */
  readonly sentinelPassword?: string | undefined;
  /** tls connects with TLS (REDIS_TLS; `rediss://` for a single node). */
  readonly tls?: boolean | undefined;
};

/** RedisClient is what the store runs on: one node's connection (plain or Sentinel-guarded) or a Cluster. */
export type RedisClient = Redis | Cluster;

// The options every data connection shares, plain, Sentinel-guarded or a Cluster node.
function nodeOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    // Queue while reconnecting so a blip is ridden out, but give up on a command after one
    // failed reconnect (or commandTimeout, whichever is first) rather than queueing forever.
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    // Never stop reconnecting: the process must recover on its own when Redis is back.
    retryStrategy: (times) => Math.min(times * 100, maxReconnectDelayMs),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.tls ? { tls: {} } : {}),
  };
}

/** createRedisConnection opens a client to the configured deployment that keeps reconnecting but fails commands fast. */
export function createRedisConnection(options: RedisConnectionOptions | string): RedisClient {
  const target: RedisConnectionOptions = typeof options === "string" ? { kind: "single", url: options } : options;
  let redis: RedisClient;
  switch (target.kind) {
    case "single":
      redis = new Redis(target.url, nodeOptions(target));
      break;
    case "sentinel":
      redis = new Redis({
        ...nodeOptions(target),
        sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
        name: target.name,
        ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
        sentinelRetryStrategy: (times) => Math.min(times * 100, maxReconnectDelayMs),
      });
      break;
    case "cluster": {
      const clusterOptions: ClusterOptions = {
        redisOptions: nodeOptions(target),
        enableOfflineQueue: true,
        clusterRetryStrategy: (times) => Math.min(times * 100, maxReconnectDelayMs),
      };
      redis = new Cluster(
        target.nodes.map(({ host, port }) => ({ host, port })),
        clusterOptions,
      );
      break;
    }
  }
  // Connection errors surface through the commands that fail; without a listener ioredis would
  // log every reconnect attempt as an unhandled error event.
  redis.on("error", () => {});
  return redis;
}
