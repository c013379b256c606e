import type { RevocationStore } from "./client-store.js";
import { checkRevocation } from "./client-record-codec.js";
import type { KeyLayout } from "./key-layout.js";
import { available } from "./redis-calls.js";
import type { RedisClient } from "./redis-connection.js";

/**
 * createRedisRevocationStore returns the deny list over `redis`: one key per revoked `jti` that
 * Redis itself expires (SET PX), so the list never outgrows the tokens it denies, and a read is
 * one EXISTS, on whichever instance asks.
 */
export function createRedisRevocationStore(redis: RedisClient, layout: KeyLayout): RevocationStore {
  return {
    async revoke(jti, ttlMs) {
      checkRevocation(jti, ttlMs);
      await available(redis, () => redis.set(layout.revokedToken(jti), "1", "PX", ttlMs));
    },
    async isRevoked(jti) {
      checkRevocation(jti);
      return (await available(redis, () => redis.exists(layout.revokedToken(jti)))) === 1;
    },
  };
}
