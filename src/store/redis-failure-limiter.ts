import { randomUUID } from "node:crypto";
import { checkFailureArgs, type FailureLimiter } from "./failure-limiter.js";
import type { KeyLayout } from "./key-layout.js";
import { available } from "./redis-calls.js";
import type { RedisClient } from "./redis-connection.js";

// KEYS: one sorted set per counted name, all under one hash tag (one slot, so one script on a
// Cluster). ARGV: now (ms), window (ms), this call's unique member, then each key's limit.
// Each set keeps the failures of the window, at most `limit` of them (the newest), and expires a
// window after its last failure. Returns count, oldest kept time, for each key in order. The time
// is the caller's (a fake clock in tests): instances' clocks agree far closer than any window.
const recordFailureLua = `local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local result = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3 + i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, ARGV[3] .. ':' .. i)
  redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
  redis.call('PEXPIRE', key, window)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  result[#result + 1] = redis.call('ZCARD', key)
  result[#result + 1] = oldest[2]
end
return result`;

interface ScriptedRedis {
  m2mRecordFailure(numberOfKeys: number, ...args: string[]): Promise<(number | string)[]>;
}

/** createRedisFailureLimiter returns the shared failure counts over `redis`: one script call per failure. */
export function createRedisFailureLimiter(redis: RedisClient, layout: KeyLayout): FailureLimiter {
  redis.defineCommand("m2mRecordFailure", { lua: recordFailureLua });
  const scripted = redis as unknown as ScriptedRedis;
  return {
    async recordFailure(names, windowMs, nowMs) {
      checkFailureArgs(names, windowMs, nowMs);
      if (names.length === 0) return [];
      const keys = names.map(({ name }) => layout.authFailures(name));
      const limits = names.map(({ limit }) => String(limit));
      const reply = await available(redis, () => scripted.m2mRecordFailure(keys.length, ...keys, String(nowMs), String(windowMs), randomUUID(), ...limits));
      return names.map((_, i) => ({ count: Number(reply[2 * i]), oldestMs: Number(reply[2 * i + 1]) }));
    },
  };
}
