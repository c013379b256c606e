import { ReplyError, type ChainableCommander, type Cluster } from "ioredis";
import { createCircuit, type Circuit } from "./circuit.js";
import { commandTimeoutOf, pingDeployment, type RedisClient } from "./redis-connection.js";

// A Cluster client runs without an offline queue (ioredis would hold its commands without a
// deadline while no node is reachable, see redis-connection.ts), so its commands are sent only
// while it is ready. While it is connecting a call waits for that attempt, shared by all calls
// and bounded by commandTimeout; between attempts (the Cluster is known to be down) it fails at once.
const attempts = new WeakMap<Cluster, Promise<void>>();
// One circuit per connection, whichever stores share it: the connection is what goes down.
const circuits = new WeakMap<RedisClient, Circuit>();

function attemptOutcome(cluster: Cluster): Promise<void> {
  let attempt = attempts.get(cluster);
  if (attempt) return attempt;
  attempt = new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer);
      for (const [event, listener] of listeners) cluster.off(event, listener);
      attempts.delete(cluster);
      if (error) reject(error);
      else resolve();
    };
    const failed = () => settle(new Error(`the Redis Cluster connection failed (${cluster.status})`));
    const listeners: [string, () => void][] = [
      ["ready", () => settle()],
      ["close", failed],
      ["end", failed],
    ];
    for (const [event, listener] of listeners) cluster.once(event, listener);
    const timeoutMs = commandTimeoutOf(cluster);
    const timer = setTimeout(() => settle(new Error(`the Redis Cluster did not connect within ${timeoutMs} ms`)), timeoutMs);
  });
  attempts.set(cluster, attempt);
  return attempt;
}

// undefined when `redis` can take a command now (a single node or Sentinel client queues it itself).
function notReady(redis: RedisClient): Promise<void> | undefined {
  if (!redis.isCluster || redis.status === "ready") return undefined;
  const cluster = redis as Cluster;
  // A Cluster made with lazyConnect (one handed to the store) connects on its first call.
  if (cluster.status === "wait") cluster.connect().catch(() => {});
  if (cluster.status === "wait" || cluster.status === "connecting" || cluster.status === "connect") return attemptOutcome(cluster);
  return Promise.reject(new Error(`the Redis Cluster is not connected (${cluster.status})`));
}

async function whenReady<T>(redis: RedisClient, call: () => Promise<T>): Promise<T> {
  const waiting = notReady(redis);
  if (waiting) await waiting;
  return call();
}

/**
 * circuitOf returns the circuit of `redis`: down from a call that failed without an answer from
 * Redis (a timeout, a closed or failed connection) until a PING of the deployment succeeds.
 */
export function circuitOf(redis: RedisClient): Circuit {
  let circuit = circuits.get(redis);
  if (circuit) return circuit;
  circuit = createCircuit({
    async probe() {
      try {
        await whenReady(redis, () => pingDeployment(redis));
      } catch (err) {
        // After a Cluster failover the slot map may still name the failed master: it is refreshed
        // every 5 s and on MOVED, and no call goes out while down. Ask for it for the next probe.
        if (redis.isCluster && redis.status === "ready") (redis as Cluster).refreshSlotsCache();
        throw err;
      }
    },
    // An error reply is Redis answering: the call was wrong or refused (e.g. LOADING), not lost.
    trips: (err) => !(err instanceof ReplyError),
    closed: () => redis.status === "end",
  });
  // A reconnected client need not wait for the next probe.
  redis.on("ready", () => circuit.probeNow());
  circuits.set(redis, circuit);
  return circuit;
}

/**
 * available runs a Redis call on `redis` once it can take it, turning any failure into
 * UnavailableError so callers fail closed; while the deployment is known to be down it fails at
 * once, without a call (see circuitOf).
 */
export function available<T>(redis: RedisClient, call: () => Promise<T>): Promise<T> {
  return circuitOf(redis).run(() => whenReady(redis, call));
}

/** toBuffer copies bytes for ioredis: binary values must be Buffers, and a copy keeps a queued command's bytes fixed. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}

/**
 * execPipelinesBySlot queues one call per item (by `queue`) and returns their replies in item
 * order. On a single node all go in one pipeline: one round trip. A Cluster pipeline must stay on
 * one node, so there the items are grouped by the hash tag of their keys (`tagOf`), one pipeline
 * per tag, all sent at once; every group is waited for, then the first failure is thrown.
 */
export async function execPipelinesBySlot<T>(
  redis: RedisClient,
  items: readonly T[],
  tagOf: (item: T) => string,
  queue: (pipeline: ChainableCommander, item: T) => void,
): Promise<unknown[]> {
  // tag → the positions of its items; a single node has one group.
  const groups = new Map<string, number[]>();
  items.forEach((item, position) => {
    const tag = redis.isCluster ? tagOf(item) : "";
    const group = groups.get(tag);
    if (group) group.push(position);
    else groups.set(tag, [position]);
  });
  const replies = new Array<unknown>(items.length);
  const results = await Promise.allSettled(
    [...groups.values()].map(async (positions) => {
      const pipeline = redis.pipeline();
      for (const position of positions) queue(pipeline, items[position] as T);
      const groupReplies = await execPipeline(pipeline);
      positions.forEach((position, j) => (replies[position] = groupReplies[j]));
    }),
  );
  for (const result of results) if (result.status === "rejected") throw result.reason;
  return replies;
}

/**
 * execPipeline sends a pipeline's commands in one write (one round trip) and returns their
 * replies in order. exec() reports each command's failure in its reply instead of rejecting, so
 * the first one is thrown here (wrap the call in `available`).
 */
export async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (replies === null) throw new Error("the pipeline was discarded");
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
