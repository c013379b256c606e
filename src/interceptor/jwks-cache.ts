// A remote JWKS (RFC 7517 §5), fetched lazily and cached: fresh for `cacheMaxAge`, then refetched
// by one shared request; kept when a refetch fails (stale-if-error), but only for `maxStale` past
// its freshness, then dropped (fail closed); refetched early at most once per `cooldown` for a key
// id it does not hold (a rotated key, RFC 7517 §4.5).
import type { JSONWebKeySet } from "jose";
import { fetchJson } from "./outbound-fetch.js";
import { KeysUnavailableError } from "./verification.js";

/**
 * RemoteKeys names a JWKS document (RFC 7517 §5) to fetch and cache, and how.
 *
 * A fetched set is fresh for `cacheMaxAge`, then refetched. While the refetch fails, the last set
 * fetched keeps verifying tokens (stale-if-error) for at most `maxStale` more: once the last
 * successful fetch is older than `cacheMaxAge + maxStale`, the set is no longer trusted and every
 * verification fails with KeysUnavailableError (Connect `Unavailable`) until a fetch succeeds.
 */
export interface RemoteKeys {
  /** jwksUri is the absolute http(s) URL of the JWKS, e.g. the issuer's `jwks_uri`. */
  jwksUri: string;
  /** cacheMaxAge is how long, in ms, a fetched set is used without any request; default 600_000. */
  cacheMaxAge?: number;
  /**
   * maxStale is how long, in ms, past `cacheMaxAge` the last fetched set is still used while every
   * refetch fails; beyond it keys are unavailable (fail closed). It must be at least `cacheMaxAge`;
   * default 86_400_000 (24 h), or `cacheMaxAge` when that is longer. A day rides out an issuer
   * outage of a night or a weekend shift, yet bounds how long a key the issuer has since retired
   * or revoked can go on verifying tokens when its removal cannot be seen.
   */
  maxStale?: number;
  /** cooldown is the least time, in ms, between refetches for an unknown kid or after a failure; default 30_000. */
  cooldown?: number;
  /** timeout bounds one fetch, headers and body, in ms; default 5_000. */
  timeout?: number;
  /** fetch replaces globalThis.fetch, e.g. to add a proxy or in tests. */
  fetch?: typeof fetch;
}

/** JwksCacheOptions configures createJwksCache: RemoteKeys plus the clock that ages the set. */
export interface JwksCacheOptions extends RemoteKeys {
  /** clock returns the current time in ms; default Date.now. */
  clock?: () => number;
}

/** JwksCache yields the remote key set, fetching it only when it must. */
export interface JwksCache {
  /**
   * current returns the cached set while fresh; else refetches, falling back to the stale set when
   * that fails. It throws KeysUnavailableError when no set was ever fetched, or when the last one
   * fetched is older than `cacheMaxAge + maxStale` and a refetch fails.
   */
  current(): Promise<JSONWebKeySet>;
  /**
   * refresh is for a kid the set lacks: it refetches unless the last fetch began less than
   * `cooldown` ago, and returns the newest set it has. Like current, it throws
   * KeysUnavailableError when it has no set, or only one past `maxStale`, and cannot fetch one.
   */
  refresh(): Promise<JSONWebKeySet | undefined>;
}

/** DEFAULT_JWKS_CACHE_MAX_AGE is the default `cacheMaxAge`: 10 minutes, in ms. */
export const DEFAULT_JWKS_CACHE_MAX_AGE = 600_000;
/** DEFAULT_JWKS_MAX_STALE is the default `maxStale`: 24 h, in ms. */
export const DEFAULT_JWKS_MAX_STALE = 86_400_000;
/** DEFAULT_JWKS_COOLDOWN is the default `cooldown`: 30 s, in ms. */
export const DEFAULT_JWKS_COOLDOWN = 30_000;
/** DEFAULT_JWKS_TIMEOUT is the default `timeout`: 5 s, in ms. */
export const DEFAULT_JWKS_TIMEOUT = 5_000;

/**
 * fetchJwks GETs the key set at `url` under the outbound policy (deadline, no redirect, 1 MiB,
 * JSON only) and checks it is HTTP 200 and a JSON object with a `keys` array (RFC 7517 §5); it
 * throws an Error saying what was wrong. Which of its keys may verify what, jose decides.
 */
export async function fetchJwks(url: string, fetchFn: typeof fetch, timeoutMs: number): Promise<JSONWebKeySet> {
  const res = await fetchJson(url, { what: "JWKS fetch", timeoutMs, fetch: fetchFn, headers: { accept: "application/jwk-set+json, application/json" } });
  if (res.status !== 200) throw new Error(`JWKS endpoint answered HTTP ${res.status}`);
  if (res.notJson !== undefined) throw new Error(`JWKS response: ${res.notJson}`);
  const doc = res.body;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || !Array.isArray((doc as { keys?: unknown }).keys)) {
    throw new Error("JWKS response is not a JSON Web Key Set");
  }
  return doc as JSONWebKeySet;
}

function checkUri(jwksUri: unknown): string {
  if (typeof jwksUri !== "string") throw new TypeError("jwksUri: must be a string");
  let url: URL;
  try {
    url = new URL(jwksUri);
  } catch {
    throw new TypeError("jwksUri: must be an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError("jwksUri: must be an http(s) URL");
  return url.href;
}

function checkMs(name: string, value: unknown, fallback: number, positive: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw new TypeError(`${name}: must be a ${positive ? "positive" : "non-negative"} number of milliseconds`);
  }
  return value;
}

function checkFunction<T>(name: string, value: T | undefined, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== "function") throw new TypeError(`${name}: must be a function`);
  return value;
}

/**
 * createJwksCache returns a cache of the JWKS at `options.jwksUri`. Nothing is fetched before the
 * first call; at most one fetch is in flight, and every caller waiting for keys shares it. A bad
 * option throws a TypeError naming it.
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  if (typeof options !== "object" || options === null) throw new TypeError("jwksUri: is required");
  const url = checkUri(options.jwksUri);
  const maxAge = checkMs("cacheMaxAge", options.cacheMaxAge, DEFAULT_JWKS_CACHE_MAX_AGE, false);
  const maxStale = checkMs("maxStale", options.maxStale, Math.max(DEFAULT_JWKS_MAX_STALE, maxAge), false);
  if (maxStale < maxAge) throw new TypeError("maxStale: must be at least cacheMaxAge");
  const cooldown = checkMs("cooldown", options.cooldown, DEFAULT_JWKS_COOLDOWN, false);
  const timeout = Math.ceil(checkMs("timeout", options.timeout, DEFAULT_JWKS_TIMEOUT, true));
  const fetchFn = checkFunction<typeof fetch>("fetch", options.fetch, (input, init) => fetch(input, init));
  const clock = checkFunction("clock", options.clock, Date.now);

  let set: JSONWebKeySet | undefined; // undefined also once it is past maxStale
  let fetchedAt = 0; // when `set` arrived: the last successful fetch
  let attemptedAt = 0; // when the last fetch began
  let failed = false; // whether the last fetch failed
  let inflight: Promise<JSONWebKeySet> | undefined;

  function load(): Promise<JSONWebKeySet> {
    if (inflight !== undefined) return inflight;
    attemptedAt = clock();
    inflight = fetchJwks(url, fetchFn, timeout).then(
      (fresh) => {
        set = fresh;
        fetchedAt = clock();
        failed = false;
        inflight = undefined;
        return fresh;
      },
      (cause: unknown) => {
        failed = true;
        inflight = undefined;
        throw new KeysUnavailableError("verification keys are unavailable: the JWKS could not be fetched", { cause });
      },
    );
    return inflight;
  }

  // A set past maxStale is dropped: the issuer may have retired or revoked any of its keys since,
  // so it is as good as none, and only a successful fetch brings keys back.
  function usable(): JSONWebKeySet | undefined {
    if (set !== undefined && clock() - fetchedAt > maxAge + maxStale) set = undefined;
    return set;
  }

  // Stale-if-error: a set that was valid stays in use while the endpoint cannot be read, but not
  // past maxStale, which a slow failing fetch may cross.
  const orStale = (stale: JSONWebKeySet) =>
    load().catch((err: unknown) => {
      if (usable() === undefined) throw err;
      return stale;
    });

  return {
    current() {
      const held = usable();
      if (held === undefined) return load(); // nothing (left) to fall back on: fail closed
      if (clock() - fetchedAt < maxAge) return Promise.resolve(held);
      if (inflight === undefined && failed && clock() - attemptedAt < cooldown) return Promise.resolve(held);
      return orStale(held);
    },
    refresh() {
      const held = usable();
      if (held === undefined) return load();
      if (inflight === undefined && clock() - attemptedAt < cooldown) return Promise.resolve(held);
      return orStale(held);
    },
  };
}
