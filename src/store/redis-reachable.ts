import * as net from "node:net";
import { createRedisConnection, defaultStoreTimeoutMs, type RedisConnectionOptions, type RedisNode } from "./redis-connection.js";

// A store that cannot reach Redis at start used to fail on its first command with ioredis's own
// words ("Reached the max retries per request limit", "Command timed out"), which name neither
// the deployment nor the reason. The start asks once, before anything else uses the store, and
// says where it tried and what the network answered.

/** StoreUnreachableError says Redis could not be reached at start: where (password hidden) and why (an errno such as ECONNREFUSED). */
export class StoreUnreachableError extends Error {
  /** code is stable: scripts and tests match it instead of the message. */
  readonly code = "store_unreachable";
  /** reason is the errno or Redis error word (ECONNREFUSED, ENOTFOUND, ETIMEDOUT, WRONGPASS, …). */
  readonly reason: string;

  constructor(where: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot reach ${where}: ${reason}`, options);
    this.name = "StoreUnreachableError";
    this.reason = reason;
  }
}

const address = ({ host, port }: RedisNode): string => `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;

/** hidePassword returns `url` with its password (and a user's) replaced by `***`, for messages and logs. */
export function hidePassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.href.replace(/\/$/, "");
  } catch {
    return "the configured REDIS_URL";
  }
}

/** describeRedis names the deployment for an operator: the URL (password hidden), the Cluster's seeds, or the Sentinels and the primary's name. */
export function describeRedis(target: RedisConnectionOptions): string {
  switch (target.kind) {
    case "single":
      return `Redis at ${hidePassword(target.url)}`;
    case "cluster":
      return `the Redis Cluster at ${target.nodes.map(address).join(", ")}`;
    case "sentinel":
      return `Redis primary "${target.name}" through the Sentinels at ${target.sentinels.map(address).join(", ")}`;
  }
}

// The errno of a plain TCP connect to `node`, or undefined when it connects.
function tcpError(node: RedisNode, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: node.host, port: node.port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve("ETIMEDOUT");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

// What went wrong, in the fewest words: the errno, a Redis error's first word, else the message.
// ioredis reports a Cluster's and the Sentinels' failures without the errno underneath, so
// those nodes are asked directly with a TCP connect.
async function reasonOf(target: RedisConnectionOptions, err: Error & { code?: unknown }, timeoutMs: number): Promise<string> {
  if (typeof err.code === "string") return err.code;
  if (err.name === "ReplyError") return err.message.split(" ")[0] ?? err.message;
  const nodes = target.kind === "cluster" ? target.nodes : target.kind === "sentinel" ? target.sentinels : [];
  const errors = await Promise.all(nodes.map((node) => tcpError(node, timeoutMs)));
  const first = errors.find((code) => code !== undefined);
  if (errors.every((code) => code !== undefined) && first !== undefined) return first;
  // The nodes answer, so the trouble is what they said (ioredis: "All sentinels are unreachable.
  // … Last error: ERR No such master with that name"): that last error alone.
  return /Last error: (.+)$/.exec(err.message)?.[1] ?? err.message;
}

/**
 * assertRedisReachable connects to `target` once and resolves when it is ready (for a Cluster,
 * its slots known; for Sentinels, the primary found); otherwise it throws StoreUnreachableError
 * after the first failed attempt, or when nothing answers within `waitMs`.
 */
export async function assertRedisReachable(target: RedisConnectionOptions, waitMs?: number): Promise<void> {
  const timeoutMs = target.timeoutMs ?? defaultStoreTimeoutMs;
  // A Cluster's readiness is several round trips (the slot map, then each node): allow a few attempts' time.
  const deadlineMs = waitMs ?? Math.max(timeoutMs * 4, 2_000);
  const redis = createRedisConnection(target);
  try {
    const failure = await new Promise<Error | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(Object.assign(new Error(`no answer within ${deadlineMs} ms`), { code: "ETIMEDOUT" })), deadlineMs);
      redis.once("ready", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      redis.once("error", (err: Error) => {
        clearTimeout(timer);
        resolve(err);
      });
    });
    if (failure !== undefined) throw new StoreUnreachableError(describeRedis(target), await reasonOf(target, failure, timeoutMs), { cause: failure });
  } finally {
    redis.disconnect();
  }
}
