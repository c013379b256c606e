import type { RevocationStore, RevokedToken } from "./client-store.js";
import {
  checkRevocation,
  checkRevocationOwner,
  maxLiveRevocations,
  maxLiveRevocationsPerOrganization,
  organizationRevocationsFull,
  revocationListFull,
  revocationReserve,
} from "./client-record-codec.js";
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

// KEYS: the list, and the organization's share (the list again for the environment's own
// revocations). ARGV: jti, ttl in ms, the list's bound for this owner, the share's bound (0: none).
// 1 if denied; 0 if the list is full; -n if the share is full, n = ms until its soonest entry ends
// (nothing written then). Ended entries are trimmed first; each key expires with its last entry.
const revokeLua = `${nowMs}
local shared = KEYS[2] ~= KEYS[1]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if shared then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
  if shared and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
    local soonest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return -math.max(1, tonumber(soonest[2]) - now)
  end
end
local ends = string.format('%.0f', now + tonumber(ARGV[2]))
for i = 1, (shared and 2 or 1) do
  redis.call('ZADD', KEYS[i], ends, ARGV[1])
  local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[i], last[2])
end
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
  m2mRevoke(key: string, share: string, jti: string, ttlMs: string, max: string, shareMax: string): Promise<number>;
  m2mIsRevoked(key: string, jti: string): Promise<number>;
  m2mListRevoked(key: string, max: string): Promise<string[]>;
}

/**
 * createRedisRevocationStore returns the deny list over `redis`: one sorted set that never holds
 * an ended denial past the next write and never more than maxLiveRevocations live ones; a read is
 * one script call, on whichever instance asks.
 */
export function createRedisRevocationStore(redis: RedisClient, layout: KeyLayout): RevocationStore {
  redis.defineCommand("m2mRevoke", { lua: revokeLua, numberOfKeys: 2 });
  redis.defineCommand("m2mIsRevoked", { lua: isRevokedLua, numberOfKeys: 1, readOnly: true });
  redis.defineCommand("m2mListRevoked", { lua: listLua, numberOfKeys: 1, readOnly: true });
  const scripted = redis as unknown as ScriptedRedis;
  const key = layout.revokedTokens;
  const max = String(maxLiveRevocations);
  return {
    async revoke(jti, ttlMs, organizationId = "") {
      checkRevocation(jti, ttlMs);
      checkRevocationOwner(organizationId);
      const [share, bound] = organizationId === "" ? [key, maxLiveRevocations] : [layout.revokedBy(organizationId), maxLiveRevocations - revocationReserve];
      const denied = await available(redis, () => scripted.m2mRevoke(key, share, jti, String(ttlMs), String(bound), String(maxLiveRevocationsPerOrganization)));
      if (denied === 0) throw revocationListFull();
      if (denied < 0) throw organizationRevocationsFull(organizationId, -denied);
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
