// GET /oauth/revoked: the ids of revoked, not yet expired tokens, for resource servers that pull
// the list (the interceptor's `revocation` option) instead of asking per token (RFC 7662). This
// document is ours, not an RFC's; the metadata names it `revocation_list_uri`.
import type { RevocationStore } from "../store/client-store.js";
import { sendJson, type HttpResponse } from "./exchange.js";
import { recordFault } from "./request-fault.js";

/** revocationListPath is where the list is served. */
export const revocationListPath = "/oauth/revoked";

/**
 * revocationListMaxAgeSeconds is the list's `cache-control: max-age`: a revocation reaches a
 * pulling verifier within this plus one fetch. Small, since revocation is for cutting off now;
 * one small GET per verifier process per 5 s is cheap.
 */
export const revocationListMaxAgeSeconds = 5;

/** RevokedEntry is one listed token: its `jti`, and `exp` (seconds) after which no verifier can accept it anyway. */
export interface RevokedEntry {
  jti: string;
  exp: number;
}

/**
 * serveRevocationList answers with `{"revoked": [{"jti", "exp"}, ...]}`, every live denial (the
 * store holds at most maxLiveRevocations), soonest to end first. `exp` is when the denial ends: the
 * token's `exp` plus the largest skew a verifier may allow. When the store cannot be read: 503,
 * never a partial or empty list, so a verifier keeps its copy and fails closed past its bound.
 */
export async function serveRevocationList(res: HttpResponse, revocations: Pick<RevocationStore, "list">): Promise<void> {
  let revoked: RevokedEntry[];
  try {
    revoked = (await revocations.list()).map((entry) => ({ jti: entry.jti, exp: Math.ceil(entry.untilMs / 1000) }));
  } catch (err) {
    recordFault(err);
    sendJson(res, 503, { error: "temporarily_unavailable" }, { "cache-control": "no-store", "retry-after": "1" });
    return;
  }
  sendJson(res, 200, { revoked }, { "cache-control": `public, max-age=${revocationListMaxAgeSeconds}` });
}
