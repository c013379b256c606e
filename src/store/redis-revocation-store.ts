import type { RevocationStore, RevokedToken } from "./client-store.js";
import { checkRevocation, maxLiveRevocations, revocationListFull } from "./client-record-codec.js";
import type { KeyLayout } from "./key-layout.js";
import { available } from "./redis-calls.js";
import type { RedisClient } from "./redis-connection.js";

// The deny list is one sorted set, jti scored by the time (ms) its denial ends, so the whole list
// can be read at once (GET /oauth/revoked): per-jti keys would be spread over a Cluster's slots and
// could only be listed by a SCAN of every master. One key is one slot, so every script below is a
// single-key command on single node, Cluster and Sentinel alike. Time is Redis's own (TIME), as it
// is for key expiry, so instances whose clocks differ still agree on what is live.
const nowMs = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS: the list. ARGV: jti, ttl in ms, the bound. 1 if denied; 0 if the list is full (nothing
// written). Expired entries are trimmed first; the key itself expires with its last entry.
const revokeLua = `${nowMs}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1`;

// KEYS: the list. ARGV: jti. 1 while its denial has not ended.
const isRevokedLua = `local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not ends then return 0 end
${nowMs}
if tonumber(ends) > now then return 1 end
return 0`;

// KEYS: the list. ARGV: the bound. Live entries, soonest to end first: jti, score, jti, score...
const listLua = `${nowMs}
return redis.call('ZRANGE', KEYS[1], '(' .. string.format('%.0f', now), '+inf', 'BYSCORE', 'LIMIT', 0, ARGV[1], 'WITHSCORES')`;

interface ScriptedRedis {
  m2mRevoke(key: string, jti: string, ttlMs: string, max: string): Promise<number>;
  m2mIsRevoked(key: string, jti: string): Promise<number>;
  m2mListRevoked(key: string, max: string): Promise<string[]>;
}

/**
 * createRedisRevocationStore returns the deny list over `redis`: one sorted set that never holds
 * an ended denial past the next write and never more than maxLiveRevocations live ones; a read is
 * one script call, on whichever instance asks.
 */
export function createRedisRevocationStore(redis: RedisClient, layout: KeyLayout): RevocationStore {
  redis.defineCommand("m2mRevoke", { lua: revokeLua, numberOfKeys: 1 });
  redis.defineCommand("m2mIsRevoked", { lua: isRevokedLua, numberOfKeys: 1, readOnly: true });
  redis.defineCommand("m2mListRevoked", { lua: listLua, numberOfKeys: 1, readOnly: true });
  const scripted = redis as unknown as ScriptedRedis;
  const key = layout.revokedTokens;
  const max = String(maxLiveRevocations);
  return {
    async revoke(jti, ttlMs) {
      checkRevocation(jti, ttlMs);
      const denied = await available(redis, () => scripted.m2mRevoke(key, jti, String(ttlMs), max));
      if (denied !== 1) throw revocationListFull();
    },
    async isRevoked(jti) {
      checkRevocation(jti);
      return (await available(redis, () => scripted.m2mIsRevoked(key, jti))) === 1;
    },
    async list() {
      const flat = await available(redis, () => scripted.m2mListRevoked(key, max));
      const live: RevokedToken[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) live.push({ jti: flat[i] as string, untilMs: Number(flat[i + 1]) });
      return live;
    },
  };
}
