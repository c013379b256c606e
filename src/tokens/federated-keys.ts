import type { CryptoKey, JWSHeaderParameters } from "jose";
import { createJwksCache, DEFAULT_JWKS_COOLDOWN, DEFAULT_JWKS_TIMEOUT } from "../interceptor/jwks-cache.js";
import { createKeyResolver, type KeyResolver } from "../interceptor/keys.js";
import { fetchJson, OutboundFetchError } from "../interceptor/outbound-fetch.js";
import { KeysUnavailableError } from "../interceptor/verification.js";

// The keys of the external issuers clients federate with, found as OpenID Connect Discovery 1.0
// §4 says: GET {issuer}/.well-known/openid-configuration, whose `issuer` must be the configured one
// exactly (§4.3), then its `jwks_uri`. Only configured issuers are ever fetched, and a `jwks_uri`
// must be on the issuer's own origin, so neither a tenant nor a token can point the service at
// another address. Every request follows the interceptor's outbound policy (deadline, no redirect,
// 1 MiB); the JWKS is cached by the interceptor's cache (an unknown kid refetches at most once per
// cooldown; stale-if-error, bounded).

/** UnusableIssuerError says an issuer answered with something that cannot be trusted (not a passing outage). */
export class UnusableIssuerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnusableIssuerError";
  }
}

/** FederatedKeysOptions configures createFederatedKeys. */
export interface FederatedKeysOptions {
  /** issuers are the configured issuer URLs (M2M_FEDERATED_ISSUERS); no other is fetched. */
  issuers: readonly string[];
  /** now returns the time in ms; ages the cached documents. */
  now?: () => number;
  /** timeoutMs bounds each fetch, headers and body; default 5000. */
  timeoutMs?: number;
  /** cooldownMs is the least time between fetches of a failing document, or for an unknown kid; default 30_000. */
  cooldownMs?: number;
  /** discoveryMaxAgeMs is how long a discovery document is used before it is read again; default 1 h. */
  discoveryMaxAgeMs?: number;
  /** fetch replaces globalThis.fetch (tests). */
  fetch?: typeof fetch;
  /** onIssuerError hears each failed fetch or refused document, for the operator's log. */
  onIssuerError?: (issuer: string, err: Error) => void;
}

/** FederatedKeys picks the key of a configured issuer that must verify a token. */
export interface FederatedKeys {
  /** issuers are the configured issuers: the only ones whose keys are ever fetched. */
  readonly issuers: ReadonlySet<string>;
  /**
   * resolve returns the issuer's key for this header (jose's getKey). It throws KeysUnavailableError
   * when the issuer cannot be reached (retryable), UnusableIssuerError when its documents are not
   * acceptable, and the interceptor's TokenVerificationError for a missing or unknown kid.
   */
  resolve(issuer: string, header: JWSHeaderParameters): Promise<CryptoKey>;
}

interface IssuerState {
  held?: { jwksUri: string; resolver: KeyResolver; readAt: number };
  attemptedAt?: number;
  failure?: Error;
  inflight?: Promise<KeyResolver>;
}

// A passing outage (no answer, or the server says it is in trouble) is retryable; anything else
// the issuer answered is a configuration fault a retry will not fix.
function classify(err: unknown, what: string): Error {
  if (err instanceof KeysUnavailableError) return err;
  if (err instanceof OutboundFetchError && (err.reason === "network" || err.reason === "timeout")) {
    return new KeysUnavailableError(`${what}: the issuer cannot be reached`, { cause: err });
  }
  return err instanceof UnusableIssuerError ? err : new UnusableIssuerError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** createFederatedKeys returns the key source for `options.issuers`; nothing is fetched before the first token of an issuer. */
export function createFederatedKeys(options: FederatedKeysOptions): FederatedKeys {
  const now = options.now ?? Date.now;
  const timeout = options.timeoutMs ?? DEFAULT_JWKS_TIMEOUT;
  const cooldown = options.cooldownMs ?? DEFAULT_JWKS_COOLDOWN;
  const maxAge = options.discoveryMaxAgeMs ?? 3_600_000;
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const states = new Map(options.issuers.map((issuer): [string, IssuerState] => [issuer, {}]));

  async function discover(issuer: string): Promise<string> {
    const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    const res = await fetchJson(url, { what: "OpenID discovery", timeoutMs: timeout, fetch: fetchFn, headers: { accept: "application/json" } });
    if (res.status >= 500 || res.status === 429) {
      throw new KeysUnavailableError(`OpenID discovery: the issuer answered HTTP ${res.status}`);
    }
    if (res.status !== 200) throw new UnusableIssuerError(`OpenID discovery answered HTTP ${res.status}`);
    const doc = res.body as { issuer?: unknown; jwks_uri?: unknown } | undefined;
    if (typeof doc !== "object" || doc === null) throw new UnusableIssuerError(`OpenID discovery: ${res.notJson ?? "not a JSON object"}`);
    // OpenID Connect Discovery 1.0 §4.3: the document's issuer MUST be identical to the one asked for.
    if (doc.issuer !== issuer) throw new UnusableIssuerError("OpenID discovery: the document's issuer is not the configured issuer");
    let jwksUri: URL;
    try {
      jwksUri = new URL(String(doc.jwks_uri));
    } catch {
      throw new UnusableIssuerError("OpenID discovery: jwks_uri is missing or not a URL");
    }
    if (typeof doc.jwks_uri !== "string" || jwksUri.origin !== new URL(issuer).origin) {
      throw new UnusableIssuerError("OpenID discovery: jwks_uri is not on the issuer's origin");
    }
    return jwksUri.href;
  }

  function load(issuer: string, state: IssuerState): Promise<KeyResolver> {
    state.attemptedAt = now();
    state.inflight = discover(issuer).then(
      (jwksUri) => {
        state.inflight = undefined;
        state.failure = undefined;
        if (state.held?.jwksUri !== jwksUri) {
          const cache = createJwksCache({ jwksUri, clock: now, timeout, cooldown, fetch: fetchFn });
          state.held = { jwksUri, resolver: createKeyResolver(cache), readAt: now() };
        } else state.held.readAt = now();
        return state.held.resolver;
      },
      (err: unknown) => {
        state.inflight = undefined;
        const failure = classify(err, "OpenID discovery");
        state.failure = failure;
        options.onIssuerError?.(issuer, failure);
        // Stale-if-error: keys already found keep working (the JWKS cache bounds how long).
        if (state.held !== undefined) return state.held.resolver;
        throw failure;
      },
    );
    return state.inflight;
  }

  function resolverOf(issuer: string): Promise<KeyResolver> {
    const state = states.get(issuer);
    if (state === undefined) return Promise.reject(new UnusableIssuerError("the issuer is not configured"));
    if (state.inflight !== undefined) return state.inflight;
    const at = now();
    if (state.held !== undefined && at - state.held.readAt < maxAge) return Promise.resolve(state.held.resolver);
    // A failing issuer is asked again at most once per cooldown, however many tokens name it.
    if (state.attemptedAt !== undefined && at - state.attemptedAt < cooldown && state.failure !== undefined) {
      return state.held !== undefined ? Promise.resolve(state.held.resolver) : Promise.reject(state.failure);
    }
    return load(issuer, state);
  }

  return {
    issuers: new Set(states.keys()),
    async resolve(issuer, header) {
      const resolver = await resolverOf(issuer);
      try {
        return await resolver.resolve(header);
      } catch (err) {
        if (err instanceof KeysUnavailableError) options.onIssuerError?.(issuer, err);
        throw err;
      }
    },
  };
}
