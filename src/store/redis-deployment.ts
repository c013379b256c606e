import type { Cluster, Redis } from "ioredis";
import type { RedisClient } from "./redis-connection.js";

// What the store asks the Redis deployment about itself, rather than about its data: done at
// start (and by operator commands), on every node that holds data (each master of a Cluster).

const clusterSlots = 16_384;

/**
 * dataNodes are the nodes that hold data: the client itself, or every master of a Cluster,
 * checked to serve every slot between them, so a walk of all of them misses no key. It throws
 * while the Cluster's slots are not all served by the masters it knows (check again once stable).
 */
export function dataNodes(redis: RedisClient): Redis[] {
  if (!redis.isCluster) return [redis as Redis];
  const cluster = redis as Cluster;
  const masters = cluster.nodes("master");
  const known = new Set(masters.map((node) => `${node.options.host}:${node.options.port}`));
  for (let slot = 0; slot < clusterSlots; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner === undefined || !known.has(owner)) {
      throw new Error(
        `the Cluster's slot ${slot} is served by ${owner ?? "no node"}, not one of the connected masters; check again once the Cluster is stable`,
      );
    }
  }
  return masters;
}

async function nodeHasKey(node: Redis, pattern: string): Promise<boolean> {
  let cursor = "0";
  do {
    const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    if (keys.length > 0) return true;
    cursor = next;
  } while (cursor !== "0");
  return false;
}

/**
 * hasKeyMatching reports whether any node holds a key matching `pattern`. It walks the keyspace
 * (SCAN) until the first match: O(keys) when there is none, so only for rare checks.
 */
export async function hasKeyMatching(redis: RedisClient, pattern: string): Promise<boolean> {
  const found = await Promise.all(dataNodes(redis).map((node) => nodeHasKey(node, pattern)));
  return found.includes(true);
}

async function nodePolicy(node: Redis): Promise<string> {
  try {
    const reply = (await node.config("GET", "maxmemory-policy")) as unknown;
    const value: unknown = Array.isArray(reply) ? reply[1] : undefined;
    if (typeof value === "string" && value !== "") return value;
  } catch {
    // CONFIG is renamed or refused on managed Redis and under an ACL: INFO reports it too.
  }
  const policy = /^maxmemory_policy:(\S+)/m.exec(await node.info("memory"))?.[1];
  if (policy === undefined) throw new Error("Redis reports no maxmemory_policy (neither CONFIG GET nor INFO memory)");
  return policy;
}

/** readEvictionPolicies returns the distinct `maxmemory-policy` of the data nodes (CONFIG GET, else INFO memory). */
export async function readEvictionPolicies(redis: RedisClient): Promise<string[]> {
  return [...new Set(await Promise.all(dataNodes(redis).map(nodePolicy)))];
}
