// The issuer's list of revoked, unexpired token ids (`GET /oauth/revoked`, our extension, not an
// RFC), pulled like the JWKS under the one outbound policy and held as a Set, so a verifier can
// refuse a token revoked at the issuer (RFC 7009) without a round trip per token (RFC 7662).
import { fetchJson } from "./outbound-fetch.js";
import { KeysUnavailableError } from "./verification.js";

/**
 * RevocationCheck turns on the verifier's revocation check: off unless given. A token whose `jti`
 * the issuer lists is refused ("token revoked") within `maxAgeMs` plus one fetch of its revocation.
 * While the list cannot be fetched the last copy is used for `maxStaleMs` more; past that every
 * token is refused with KeysUnavailableError (Connect `Unavailable`): fail closed.
 */
export interface RevocationCheck {
  /** uri is the list's absolute http(s) URL; default `${issuer}/oauth/revoked` (the metadata's `revocation_list_uri`). */
  uri?: string;
  /** maxAgeMs is how long a fetched list is used before it must be fetched again; default 5_000 (the issuer's max-age). */
  maxAgeMs?: number;
  /** maxStaleMs is how long past `maxAgeMs` the last list is used while fetches fail; default 60_000. */
  maxStaleMs?: number;
  /** timeoutMs bounds one fetch, headers and body; default 5_000. */
  timeoutMs?: number;
  /** fetch replaces globalThis.fetch, e.g. to add a proxy or in tests. */
  fetch?: typeof fetch;
}

/** RevocationList holds the issuer's list of revoked token ids, fetched when it must be. */
export interface RevocationList {
  /**
   * usable returns the list when it may be used now without waiting: younger than `maxAgeMs`, or
   * stale within `maxStaleMs` while the last fetch failed less than `maxAgeMs` ago; undefined
   * otherwise (call `load`). Past 80% of `maxAgeMs` it starts a fetch in the background, so a
   * busy verifier never waits for one.
   */
  usable(): ReadonlySet<string> | undefined;
  /** load fetches the list (one fetch in flight, shared) and returns it; on failure the stale list within `maxStaleMs`, else KeysUnavailableError. */
  load(): Promise<ReadonlySet<string>>;
}

const defaults = { maxAgeMs: 5_000, maxStaleMs: 60_000, timeoutMs: 5_000 };

function checkMs(name: string, value: unknown, fallback: number, positive: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new TypeError(`revocation.${name}: must be a ${positive ? "positive" : "non-negative"} number of milliseconds`);
  }
  return value;
}

function checkUri(uri: unknown): string {
  let url: URL;
  try {
    url = new URL(String(uri));
  } catch {
    throw new TypeError("revocation.uri: must be an absolute URL");
  }
  if (typeof uri !== "string" || (url.protocol !== "https:" && url.protocol !== "http:")) throw new TypeError("revocation.uri: must be an http(s) URL");
  return url.href;
}

/** fetchRevocationList GETs the list under the outbound policy and returns its ids; it throws an Error saying what was wrong. */
export async function fetchRevocationList(url: string, fetchFn: typeof fetch, timeoutMs: number): Promise<Set<string>> {
  const res = await fetchJson(url, { what: "revocation list fetch", timeoutMs, fetch: fetchFn, headers: { accept: "application/json" } });
  if (res.status !== 200) throw new Error(`revocation list answered HTTP ${res.status}`);
  if (res.notJson !== undefined) throw new Error(`revocation list: ${res.notJson}`);
  const revoked = (res.body as { revoked?: unknown } | null)?.revoked;
  if (!Array.isArray(revoked)) throw new Error("revocation list: no revoked array");
  const ids = new Set<string>();
  // A malformed entry spoils the whole list: an entry skipped could be the revoked token.
  for (const entry of revoked as unknown[]) {
    const jti = (entry as { jti?: unknown } | null)?.jti;
    if (typeof jti !== "string" || jti === "") throw new Error("revocation list: an entry without a jti");
    ids.add(jti);
  }
  return ids;
}

/** createRevocationList checks `check` (a bad option throws a TypeError naming it) and returns the list's cache; nothing is fetched before the first call. */
export function createRevocationList(check: RevocationCheck, issuer: string, clock: () => number): RevocationList {
  if (typeof check !== "object" || check === null) throw new TypeError("revocation: must be an object, e.g. {} for the defaults");
  const url = checkUri(check.uri ?? `${issuer.replace(/\/+$/, "")}/oauth/revoked`);
  const maxAge = checkMs("maxAgeMs", check.maxAgeMs, defaults.maxAgeMs, true);
  const maxStale = checkMs("maxStaleMs", check.maxStaleMs, defaults.maxStaleMs, false);
  const timeout = Math.ceil(checkMs("timeoutMs", check.timeoutMs, defaults.timeoutMs, true));
  if (check.fetch !== undefined && typeof check.fetch !== "function") throw new TypeError("revocation.fetch: must be a function");
  const fetchFn = check.fetch ?? ((input, init) => fetch(input, init));

  let ids: Set<string> | undefined;
  let fetchedAt = 0; // when `ids` arrived
  let failedAt: number | undefined; // when the last fetch failed, until one succeeds
  let inflight: Promise<Set<string>> | undefined;

  const age = () => clock() - fetchedAt;
  const withinStale = () => ids !== undefined && age() <= maxAge + maxStale;

  function fetchOnce(): Promise<Set<string>> {
    inflight ??= fetchRevocationList(url, fetchFn, timeout).then(
      (fresh) => {
        [ids, fetchedAt, failedAt, inflight] = [fresh, clock(), undefined, undefined];
        return fresh;
      },
      (cause: unknown) => {
        [failedAt, inflight] = [clock(), undefined];
        throw new KeysUnavailableError("the revocation list is unavailable", { cause });
      },
    );
    return inflight;
  }

  return {
    usable() {
      if (ids === undefined) return undefined;
      const current = age();
      if (current < maxAge) {
        // Refresh ahead, so steady traffic always finds a list younger than maxAge.
        if (current >= maxAge * 0.8 && inflight === undefined && failedAt === undefined) fetchOnce().catch(() => undefined);
        return ids;
      }
      // Stale: used only while the issuer is known to be failing (retried once per maxAge) and
      // within the bound; otherwise the caller must wait for a fetch.
      if (failedAt !== undefined && clock() - failedAt < maxAge && withinStale()) return ids;
      return undefined;
    },
    async load() {
      try {
        return await fetchOnce();
      } catch (err) {
        if (withinStale()) return ids as Set<string>;
        throw err;
      }
    },
  };
}
