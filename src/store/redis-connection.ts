import { Redis } from "ioredis";

// Fail closed: when Redis is down a command must fail within seconds, so the service answers
// "temporarily unavailable" instead of holding requests (and their sockets) open indefinitely.

/** connectTimeoutMs bounds one connection attempt, e.g. to a host that drops packets. */
export const connectTimeoutMs = 2_000;
/** commandTimeoutMs bounds one command, including its time queued while reconnecting. */
export const commandTimeoutMs = 2_000;
const maxReconnectDelayMs = 1_000;

/** createRedisConnection opens a client to `url` that keeps reconnecting but fails commands fast. */
export function createRedisConnection(url: string): Redis {
  const redis = new Redis(url, {
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    // Queue while reconnecting so a blip is ridden out, but give up on a command after one
    // failed reconnect (or commandTimeout, whichever is first) rather than queueing forever.
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    // Never stop reconnecting: the process must recover on its own when Redis is back.
    retryStrategy: (times) => Math.min(times * 100, maxReconnectDelayMs),
  });
  // Connection errors surface through the commands that fail; without a listener ioredis would
  // log every reconnect attempt as an unhandled error event.
  redis.on("error", () => {});
  return redis;
}
