// A bounded LRU of verified access tokens: a service that gets the same token thousands of times
// checks its signature once. The key is the whole compact JWS, so a token that differs in any
// character, its signature included, is a different entry and is verified in full.
//
// Only tokens that passed every check (signature, typ, iss, aud, exp, nbf, claim types) are
// stored, never failures: a stored failure would let anyone fill the cache with garbage and evict
// the good entries, and would pin verdicts that may change (keys not yet fetched, nbf, rotation).
// Storing successes only means an entry can exist only for a token the issuer really signed.
import type { AuthClaims } from "./verification.js";

/** TokenCacheOptions configures createTokenCache. */
export interface TokenCacheOptions {
  /** maxEntries bounds the cache; the least recently used entry goes first; 0 stores nothing; default 10_000. */
  maxEntries?: number;
  /**
   * maxBytes bounds the cache's size as well, each entry costing its token's length plus its
   * claims' JSON length (a large token, 20–40 KB, would otherwise let 10,000 entries hold
   * hundreds of MB); the least recently used entries go first; default 16 MiB.
   */
  maxBytes?: number;
  /** clock returns the current time in ms; default Date.now. */
  clock?: () => number;
}

/** TokenCache maps a verified token to its claims until the token expires. */
export interface TokenCache {
  /** get returns the claims of `token` while its entry has not expired; an expired entry is dropped. */
  get(token: string): AuthClaims | undefined;
  /** set stores the claims of a fully verified `token`, usable while the clock is before `expiresAt` (ms). */
  set(token: string, claims: AuthClaims, expiresAt: number): void;
  /** clear drops every entry, e.g. when a key that verified them left the key set. */
  clear(): void;
  /** size is the number of entries, expired ones not yet dropped included. */
  readonly size: number;
  /** bytes is the entries' cost (tokens' and claims' lengths), expired ones not yet dropped included. */
  readonly bytes: number;
}

/** DEFAULT_TOKEN_CACHE_BYTES is the default `maxBytes`: 16 MiB. */
export const DEFAULT_TOKEN_CACHE_BYTES = 16 * 1024 * 1024;

/** DEFAULT_TOKEN_CACHE_ENTRIES is the default `maxEntries`. */
export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;

interface Entry {
  readonly claims: AuthClaims;
  readonly expiresAt: number;
  readonly bytes: number;
}

/** checkMaxBytes returns a valid `maxBytes`, or throws a TypeError naming `option`. */
export function checkMaxBytes(option: string, value: unknown): number {
  if (value === undefined) return DEFAULT_TOKEN_CACHE_BYTES;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new TypeError(`${option}: must be a non-negative integer`);
  return value;
}

/** checkMaxEntries returns a valid `maxEntries`, or throws a TypeError naming `option`. */
export function checkMaxEntries(option: string, value: unknown): number {
  if (value === undefined) return DEFAULT_TOKEN_CACHE_ENTRIES;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${option}: must be a non-negative integer`);
  }
  return value;
}

/**
 * createTokenCache returns an empty cache. A Map keeps insertion order, so re-inserting an entry
 * on each hit makes its first key the least recently used one. A bad option throws a TypeError.
 */
export function createTokenCache(options: TokenCacheOptions = {}): TokenCache {
  const maxEntries = checkMaxEntries("maxEntries", options.maxEntries);
  const maxBytes = checkMaxBytes("maxBytes", options.maxBytes);
  if (options.clock !== undefined && typeof options.clock !== "function") throw new TypeError("clock: must be a function");
  const clock = options.clock ?? Date.now;
  const entries = new Map<string, Entry>();
  let bytes = 0;
  const drop = (token: string): Entry | undefined => {
    const entry = entries.get(token);
    if (entry === undefined) return undefined;
    entries.delete(token);
    bytes -= entry.bytes;
    return entry;
  };

  return {
    get(token) {
      const entry = drop(token);
      if (entry === undefined) return undefined;
      // Checked on every use: an entry is never served past the token's exp (plus the clock skew).
      if (clock() >= entry.expiresAt) return undefined;
      entries.set(token, entry);
      bytes += entry.bytes;
      return entry.claims;
    },
    set(token, claims, expiresAt) {
      if (maxEntries === 0 || !(clock() < expiresAt)) return;
      drop(token);
      const cost = token.length + JSON.stringify(claims).length;
      // An entry larger than the whole bound would only empty the cache for nothing.
      if (cost > maxBytes) return;
      entries.set(token, { claims, expiresAt, bytes: cost });
      bytes += cost;
      while (entries.size > maxEntries || bytes > maxBytes) drop(entries.keys().next().value as string);
    },
    clear() {
      entries.clear();
      bytes = 0;
    },
    get size() {
      return entries.size;
    },
    get bytes() {
      return bytes;
    },
  };
}
