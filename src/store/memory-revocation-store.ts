import type { RevocationStore } from "./client-store.js";
import {
  checkRevocation,
  checkRevocationOwner,
  maxLiveRevocations,
  maxLiveRevocationsPerOrganization,
  organizationRevocationsFull,
  revocationListFull,
  revocationReserve,
} from "./client-record-codec.js";

// The memory backend's deny list: the Redis one's rules (the list's bound, an organization's
// share, the environment's reserve) over a Map, for tests and single-process development.

/** createMemoryRevocationStore returns the deny list of the memory store; `now` is the store's clock. */
export function createMemoryRevocationStore(assertOpen: () => void, now: () => number): RevocationStore {
  // jti → when (ms) its denial ends and whose token it is; an entry past its end is gone, as an expired Redis entry is.
  const denied = new Map<string, { until: number; organizationId: string }>();
  return {
    async revoke(jti, ttlMs, organizationId = "") {
      assertOpen();
      checkRevocation(jti, ttlMs);
      checkRevocationOwner(organizationId);
      const at = now();
      for (const [id, { until }] of denied) if (until <= at) denied.delete(id);
      if (!denied.has(jti)) {
        if (denied.size >= maxLiveRevocations - (organizationId === "" ? 0 : revocationReserve)) throw revocationListFull();
        const own = [...denied.values()].filter((entry) => entry.organizationId === organizationId && organizationId !== "");
        if (own.length >= maxLiveRevocationsPerOrganization) throw organizationRevocationsFull(organizationId, Math.min(...own.map((e) => e.until)) - at);
      }
      denied.set(jti, { until: at + ttlMs, organizationId });
    },
    async isRevoked(jti) {
      assertOpen();
      checkRevocation(jti);
      return (denied.get(jti)?.until ?? 0) > now();
    },
    async list() {
      assertOpen();
      const at = now();
      const live = [...denied].filter(([, { until }]) => until > at).map(([jti, { until }]) => ({ jti, untilMs: until }));
      return live.sort((a, b) => a.untilMs - b.untilMs);
    },
  };
}
