import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

// Fail closed and fast: when Redis is down, hung or restarting a command must fail within the
// store timeout (M2M_STORE_TIMEOUT_MS), so the service answers "temporarily unavailable" instead
// of holding requests (and their sockets) open; and the client keeps reconnecting on its own, so
// the service recovers without a restart. Once a call has failed, redis-circuit.ts fails the next
// ones at once until the deployment answers again.

/**
 * defaultStoreTimeoutMs bounds one connection attempt (e.g. to a host that drops packets) and one
 * command, including its time queued while (re)connecting: under a second for every answer.
 */
export const defaultStoreTimeoutMs = 500;
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
  /** tls connects with TLS (REDIS_TLS; `rediss://` for a single node), to Sentinels too. */
  readonly tls?: boolean | undefined;
  /** timeoutMs bounds each connection attempt and command (M2M_STORE_TIMEOUT_MS); default defaultStoreTimeoutMs. */
  readonly timeoutMs?: number | undefined;
};

/** RedisClient is what the store runs on: one node's connection (plain or Sentinel-guarded) or a Cluster. */
export type RedisClient = Redis | Cluster;

const reconnectDelay = (times: number): number => Math.min(times * 100, maxReconnectDelayMs);

function timeoutOf(options: RedisConnectionOptions): number {
  const timeoutMs = options.timeoutMs ?? defaultStoreTimeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new TypeError("createRedisConnection: timeoutMs must be a positive integer (ms)");
  return timeoutMs;
}

/**
 * commandTimeoutOf is the command timeout `redis` was made with (its Cluster nodes' for a
 * Cluster), or defaultStoreTimeoutMs for a client made without one.
 */
export function commandTimeoutOf(redis: RedisClient): number {
  const options = redis.isCluster ? (redis as Cluster).options.redisOptions : (redis as Redis).options;
  return options?.commandTimeout ?? defaultStoreTimeoutMs;
}

// What every data connection shares, to a single node, a Sentinel-guarded primary or a Cluster node.
function dataNodeOptions(options: RedisConnectionOptions) {
  const timeoutMs = timeoutOf(options);
  return {
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // A command sent but unanswered when the connection dropped may or may not have run; resent
    // after a failover, a create would find its own record and report a collision. It fails
    // instead (by commandTimeout), and the caller retries on the 503.
    autoResendUnfulfilledCommands: false,
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.tls ? { tls: {} } : {}),
  } satisfies RedisOptions;
}

// A single node or a Sentinel-guarded primary: one connection that queues commands while it
// reconnects, but gives up on a command after one failed reconnect (or commandTimeout).
function standaloneOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    ...dataNodeOptions(options),
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    // Never stop reconnecting: the process must recover on its own when Redis is back.
    retryStrategy: reconnectDelay,
  };
}

function sentinelOptions(target: Extract<RedisConnectionOptions, { kind: "sentinel" }>): RedisOptions {
  return {
    ...standaloneOptions(target),
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.name,
    // Only the primary takes writes: the ready check reads the node's role (INFO) and
    // reconnects through the Sentinels when it is not the primary, e.g. just after a failover.
    role: "master",
    enableReadyCheck: true,
    // Subscribed to +switch-master, the client drops a demoted primary as soon as the
    // Sentinels switch, instead of waiting for it to fail.
    failoverDetector: true,
    // A write refused by a node demoted under an open connection reconnects to the new primary.
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
    ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    // Asking a Sentinel where the primary is must not wait on one that accepts and never answers.
    sentinelCommandTimeout: timeoutOf(target),
    sentinelRetryStrategy: reconnectDelay,
  };
}

function clusterOptions(target: RedisConnectionOptions): ClusterOptions {
  return {
    redisOptions: dataNodeOptions(target),
    // ioredis keeps a Cluster's commands without a deadline while no node is reachable; off,
    // they fail at once instead, and the store waits for a connection attempt in progress
    // itself, within commandTimeout (see redis-calls.ts).
    enableOfflineQueue: false,
    enableReadyCheck: true,
    // Reads go to masters: a replica may not have a write yet (a client just registered could
    // not get a token), and read-then-compare-and-set would conflict on stale reads.
    scaleReads: "master",
    clusterRetryStrategy: reconnectDelay,
    // Asking one node for the slot map; seeds are tried in turn, so keep each short.
    slotsRefreshTimeout: timeoutOf(target),
    // Topology changes (a promoted replica, moved slots) are also learnt from MOVED replies.
    slotsRefreshInterval: 5_000,
    // Seed host names are kept, not resolved once at start: TLS checks the certificate against
    // the name, and a node that moves to a new address is found again.
    dnsLookup: (address, callback) => callback(null, address),
  };
}

/** createRedisConnection opens a client to the configured deployment that keeps reconnecting but fails commands fast. */
export function createRedisConnection(options: RedisConnectionOptions | string): RedisClient {
  const target: RedisConnectionOptions = typeof options === "string" ? { kind: "single", url: options } : options;
  let redis: RedisClient;
  switch (target.kind) {
    case "single":
      redis = new Redis(target.url, standaloneOptions(target));
      break;
    case "sentinel":
      redis = new Redis(sentinelOptions(target));
      break;
    case "cluster":
      redis = new Cluster(
        target.nodes.map(({ host, port }) => ({ host, port })),
        clusterOptions(target),
      );
      break;
  }
  // Connection errors surface through the commands that fail; without a listener ioredis would
  // log every reconnect attempt as an unhandled error event.
  redis.on("error", () => {});
  return redis;
}

const reconnectAfterEndMs = 100;

/**
 * keepConnected reconnects `redis` whenever it ends without having been closed on purpose, and
 * returns the function to call before closing it on purpose. ioredis ends a Sentinel client for
 * good when a failover is announced while that client is asking the Sentinels for the primary
 * (its failover detector disconnects the connector mid-connect); without this a store would stay
 * unavailable after the very failover it should ride out. A Cluster client is left alone.
 */
export function keepConnected(redis: RedisClient): () => void {
  if (redis.isCluster) return () => {};
  let closing = false;
  const onEnd = () => {
    if (closing) return;
    const timer = setTimeout(() => {
      if (!closing && redis.status === "end") redis.connect().catch(() => {});
    }, reconnectAfterEndMs);
    timer.unref();
  };
  redis.on("end", onEnd);
  return () => {
    closing = true;
    redis.off("end", onEnd);
  };
}

/**
 * pingDeployment resolves when the deployment can serve the store: a node (or the primary) answers
 * PING; on a Cluster every master answers PING and the Cluster reports all slots served.
 */
export async function pingDeployment(redis: RedisClient): Promise<void> {
  if (!redis.isCluster) {
    await redis.ping();
    return;
  }
  const cluster = redis as Cluster;
  const [info] = await Promise.all([cluster.cluster("INFO"), ...cluster.nodes("master").map((node) => node.ping())]);
  const state = /^cluster_state:(\w+)/m.exec(String(info))?.[1];
  if (state !== "ok") throw new Error(`the Redis Cluster reports cluster_state:${state ?? "unknown"}`);
}
