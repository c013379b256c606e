import type { JSONWebKeySet } from "jose";
import type { ClientJwk, ClientJwkSet } from "../../gen/m2mauth/v1/clients_pb.js";
import { jwksOfDocument } from "../clients/client-jwks.js";
import { jwksUriProblem } from "../clients/client-jwks-uri.js";
import { InvalidClientError, UnavailableError } from "../errors.js";
import { createJwksCache, DEFAULT_JWKS_COOLDOWN, DEFAULT_JWKS_TIMEOUT, type JwksCache } from "../interceptor/jwks-cache.js";
import { OutboundFetchError } from "../interceptor/outbound-fetch.js";

// The keys clients publish at their jwks_uri (RFC 7591 §2, for RFC 7523 private_key_jwt), read
// through the interceptor's JWKS cache and so under its outbound policy (deadline, no redirect
// followed, 1 MiB, JSON only): fresh for a few minutes, refetched at most once per cooldown for an
// unknown kid (a rotated key, RFC 7517 §4.5), kept a bounded while when a refetch fails. The URIs
// are the tenants', so: only allowed origins are fetched (checked again before each fetch), at
// most `maxUris` documents are held (least recently used dropped), a failing URI is asked at most
// once per cooldown, and a document is trusted only when every key in it passes the checks an
// inline key does.

/** ClientJwksUriKeysOptions configures createClientJwksUriKeys. */
export interface ClientJwksUriKeysOptions {
  /** origins are the allowed origins (M2M_CLIENT_JWKS_ORIGINS); a URI on another is never fetched. */
  origins: readonly string[];
  /** now returns the time in ms; ages the cached documents. */
  now?: () => number;
  /** timeoutMs bounds each fetch, headers and body; default 5000. */
  timeoutMs?: number;
  /** cooldownMs is the least time between fetches of a URI for an unknown kid or after a failure; default 30_000. */
  cooldownMs?: number;
  /** cacheMaxAgeMs is how long a document is used without a request; default 300_000 (5 min). */
  cacheMaxAgeMs?: number;
  /** maxStaleMs is how long past cacheMaxAgeMs a document is still used while refetches fail; default 3_600_000 (1 h). */
  maxStaleMs?: number;
  /** maxUris is how many URIs' documents are held at once; default 1000. */
  maxUris?: number;
  /** fetch replaces globalThis.fetch (tests). */
  fetch?: typeof fetch;
  /** onError hears each failed fetch or refused document, for the operator's log. */
  onError?: (jwksUri: string, err: Error) => void;
}

/** ClientJwksUriKeys finds a client's key at its jwks_uri. */
export interface ClientJwksUriKeys {
  /**
   * find returns the key named `kid` in the document at `jwksUri` (refetched once per cooldown when
   * no key has it), or undefined. It throws UnavailableError when the document cannot be read
   * (retryable), InvalidClientError when the document, the answer (a redirect, over 1 MiB) or the
   * URI's origin is not acceptable.
   */
  find(jwksUri: string, kid: string): Promise<ClientJwk | undefined>;
}

interface Entry {
  cache: JwksCache;
  /** checked remembers each fetched document's verdict, so a document is checked once. */
  checked: WeakMap<JSONWebKeySet, ClientJwkSet | InvalidClientError>;
  /** failure is the last read's, while it had no usable document to fall back on. */
  failure?: { at: number; error: UnavailableError | InvalidClientError };
}

/** defaultMaxJwksUris bounds the documents held: tenants registering many URIs cannot grow memory. */
export const defaultMaxJwksUris = 1000;

/** createClientJwksUriKeys returns the key source for clients' jwks_uri; nothing is fetched before a client's first assertion. */
export function createClientJwksUriKeys(options: ClientJwksUriKeysOptions): ClientJwksUriKeys {
  const now = options.now ?? Date.now;
  const cooldown = options.cooldownMs ?? DEFAULT_JWKS_COOLDOWN;
  const maxUris = options.maxUris ?? defaultMaxJwksUris;
  const cacheOptions = {
    clock: now,
    timeout: options.timeoutMs ?? DEFAULT_JWKS_TIMEOUT,
    cooldown,
    cacheMaxAge: options.cacheMaxAgeMs ?? 300_000,
    // A client that pulls a compromised key cannot be heard while its server is down: trust the
    // last document an hour at most, far less than the interceptor's day.
    maxStale: options.maxStaleMs ?? 3_600_000,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  };
  const entries = new Map<string, Entry>();

  function entryOf(jwksUri: string): Entry {
    const held = entries.get(jwksUri);
    // A Map keeps insertion order: re-inserting on use makes its first key the least recently used.
    entries.delete(jwksUri);
    const entry = held ?? { cache: createJwksCache({ jwksUri, ...cacheOptions }), checked: new WeakMap() };
    entries.set(jwksUri, entry);
    if (entries.size > maxUris) entries.delete(entries.keys().next().value as string);
    return entry;
  }

  async function read(jwksUri: string, entry: Entry, get: () => Promise<JSONWebKeySet | undefined>): Promise<ClientJwkSet | undefined> {
    let set: JSONWebKeySet | undefined;
    try {
      set = await get();
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause : (err as Error);
      // A redirect or an oversized answer is the client's set-up, which a retry will not fix; no
      // answer, a slow one or any other status may pass (fail closed, retryable).
      const unusable = cause instanceof OutboundFetchError && (cause.reason === "redirect" || cause.reason === "too-large");
      const error = unusable
        ? new InvalidClientError(`the client's jwks_uri cannot be used: ${cause.message}`, { cause: err })
        : new UnavailableError("the client's jwks_uri could not be read; retry later", { cause: err });
      entry.failure = { at: now(), error };
      options.onError?.(jwksUri, cause);
      throw error;
    }
    entry.failure = undefined;
    if (set === undefined) return undefined;
    let verdict = entry.checked.get(set);
    if (verdict === undefined) {
      try {
        verdict = jwksOfDocument(set);
      } catch (err) {
        verdict = new InvalidClientError(`the client's jwks_uri document is refused: ${(err as Error).message}`, { cause: err });
        options.onError?.(jwksUri, verdict);
      }
      entry.checked.set(set, verdict);
    }
    if (verdict instanceof InvalidClientError) throw verdict;
    return verdict;
  }

  return {
    async find(jwksUri, kid) {
      // The allow-list may have shrunk since the client was registered.
      if (jwksUriProblem(jwksUri, options.origins) !== undefined) {
        throw new InvalidClientError("the client's jwks_uri is not on an origin this service may fetch keys from");
      }
      const entry = entryOf(jwksUri);
      // Failing with nothing to fall back on: asked again once per cooldown, however many assertions arrive.
      if (entry.failure !== undefined && now() - entry.failure.at < cooldown) throw entry.failure.error;
      const pick = (set: ClientJwkSet | undefined) => set?.keys.find((key) => key.kid === kid);
      const key = pick(await read(jwksUri, entry, () => entry.cache.current()));
      if (key !== undefined) return key;
      // An unknown kid may be a key the client just rotated in: re-read once (the cache rate-limits).
      return pick(await read(jwksUri, entry, () => entry.cache.refresh()));
    },
  };
}
