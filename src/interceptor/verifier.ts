// Verifies RFC 9068 JWT access tokens: signature with our keys only, then typ, iss, aud, exp, nbf, iat;
// a token that passed is remembered until it expires, so its signature is checked once.
import { jwtVerify, type JWSHeaderParameters, type JWTVerifyOptions } from "jose";
import { asymmetricAlgorithms, defaultClockSkewSeconds, maxClockSkewSeconds, maxTokenLength } from "../rules.js";
import { createJwksCache } from "./jwks-cache.js";
import { createKeyResolver, createKeySource, type KeySource, type TokenVerifierKeys } from "./keys.js";
import { createRevocationList, type RevocationCheck, type RevocationList } from "./revocation-list.js";
import { checkMaxBytes, checkMaxEntries, createTokenCache, type TokenCacheOptions } from "./token-cache.js";
import { REQUIRED_CLAIMS, TokenVerificationError, toAuthClaims, toVerificationError, type AuthClaims } from "./verification.js";

/** TokenVerifierOptions configures createTokenVerifier; give exactly one of `keys` and `jwksUri`. */
export interface TokenVerifierOptions {
  /** issuer is the exact `iss` a token must carry (RFC 9068 §4). */
  issuer: string;
  /**
   * audience: the token's `aud` must contain at least one of these (RFC 9068 §4, RFC 7519 §4.1.3).
   * When omitted `aud` is not checked, which only suits a caller that checks it itself, like the
   * server's ValidateToken when it is not given an audience. The interceptor always requires it.
   */
  audience?: string | string[];
  /** keys is where verification keys come from: `{ jwksUri, ... }`, a static JWKS, or a function. */
  keys?: TokenVerifierKeys;
  /** jwksUri is shorthand for `keys: { jwksUri }`: a remote JWKS (RFC 7517 §5) with default caching. */
  jwksUri?: string;
  /** algorithms accepted in the `alg` header; default RS256, ES256, EdDSA; never none or HS* (RFC 8725 §3.1). */
  algorithms?: readonly string[];
  /** clockSkewSeconds is the leeway for `exp`, `nbf` and a future `iat` (RFC 7519 §4.1.4-6), 0 to 300; default 30. */
  clockSkewSeconds?: number;
  /**
   * tokenCache bounds the cache of verified tokens, `{ maxEntries, maxBytes }` (default 10_000
   * entries and 16 MiB, an entry costing its token's length plus its claims' JSON length); false
   * or maxEntries 0 turns it off. A cached token is not re-verified until its `exp` (plus the skew).
   */
  tokenCache?: Pick<TokenCacheOptions, "maxEntries" | "maxBytes"> | false;
  /**
   * revocation turns on the check against the issuer's list of revoked tokens (`{}` for the
   * defaults); off by default, when a revoked token is accepted until its `exp`. See RevocationCheck.
   */
  revocation?: RevocationCheck | false;
  /** clock returns the current time in ms, for exp/nbf and every cache age; default Date.now. */
  clock?: () => number;
}

/** TokenVerifier checks access tokens. */
export interface TokenVerifier {
  /**
   * verify returns the token's claims, or throws TokenVerificationError (the token is not valid,
   * or revoked) or KeysUnavailableError (the keys, or with `revocation` on the revocation list past
   * its bound, could not be read; fail closed, retry later).
   */
  verify(token: string): Promise<AuthClaims>;
  /**
   * cached returns the claims of `token` when it was verified before and has not expired since
   * (no I/O, no signature check); undefined otherwise, or always when the token cache is off. With
   * `revocation` on, also undefined for a listed token or while the list must be fetched first.
   */
  cached(token: string): AuthClaims | undefined;
}

// Asymmetric algorithms only (rules.ts says why); these three unless the caller lists others.
const defaultAlgorithms = ["RS256", "ES256", "EdDSA"];

function checkAlgorithms(algorithms: readonly string[] | undefined): string[] {
  if (algorithms === undefined) return [...defaultAlgorithms];
  // Options come from JavaScript callers too: the declared type is not trusted.
  const list: unknown = algorithms;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError("algorithms: must be a non-empty array of JWS algorithm names");
  }
  const checked: string[] = [];
  for (const alg of list as unknown[]) {
    if (typeof alg !== "string" || !asymmetricAlgorithms.includes(alg)) {
      throw new TypeError(`algorithms: ${JSON.stringify(alg)} is not allowed; use asymmetric algorithms among ${asymmetricAlgorithms.join(", ")}`);
    }
    checked.push(alg);
  }
  return [...new Set(checked)];
}

function checkAudience(audience: unknown): string | string[] | undefined {
  if (audience === undefined) return undefined;
  const list = Array.isArray(audience) ? audience : [audience];
  if (list.length === 0 || list.some((a) => typeof a !== "string" || a === "")) {
    throw new TypeError("audience: must be a non-empty string or a non-empty array of them");
  }
  return Array.isArray(audience) ? [...(list as string[])] : (audience as string);
}

function checkClockSkew(seconds: unknown): number {
  if (seconds === undefined) return defaultClockSkewSeconds;
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0 || seconds > maxClockSkewSeconds) {
    throw new TypeError(`clockSkewSeconds: must be a number from 0 to ${maxClockSkewSeconds}`);
  }
  return seconds;
}

function checkTokenCache(tokenCache: unknown): { maxEntries: number; maxBytes: number } {
  if (tokenCache === false) return { maxEntries: 0, maxBytes: 0 };
  if (tokenCache !== undefined && (typeof tokenCache !== "object" || tokenCache === null)) {
    throw new TypeError("tokenCache: must be { maxEntries, maxBytes } or false");
  }
  const given = (tokenCache ?? {}) as TokenCacheOptions;
  return { maxEntries: checkMaxEntries("tokenCache.maxEntries", given.maxEntries), maxBytes: checkMaxBytes("tokenCache.maxBytes", given.maxBytes) };
}

function checkKeys(options: TokenVerifierOptions, clock: () => number): KeySource {
  const hasKeys = options.keys !== undefined;
  const hasUri = options.jwksUri !== undefined;
  if (hasKeys === hasUri) throw new TypeError("keys, jwksUri: give exactly one of keys and jwksUri");
  return hasUri ? createJwksCache({ jwksUri: options.jwksUri as string, clock }) : createKeySource(options.keys as TokenVerifierKeys, clock);
}

/**
 * createTokenVerifier returns a verifier for access tokens from one issuer. Options are checked
 * here: a bad one throws a TypeError naming it.
 *
 * With the token cache on (the default), a token is verified in full once and then served from
 * the cache until `exp` plus the clock skew. Concurrent first calls with the same token share one
 * verification. When a key set read on a later cache miss has dropped or replaced a key, the whole
 * cache is emptied, so a key removed at the issuer stops admitting cached tokens from then on.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (typeof options?.issuer !== "string" || options.issuer === "") throw new TypeError("issuer: must be a non-empty string");
  if (options.clock !== undefined && typeof options.clock !== "function") throw new TypeError("clock: must be a function");
  const clock = options.clock ?? Date.now;
  const audience = checkAudience(options.audience);
  const algorithms = checkAlgorithms(options.algorithms);
  const clockSkewSeconds = checkClockSkew(options.clockSkewSeconds);
  const { maxEntries, maxBytes } = checkTokenCache(options.tokenCache);
  const keys = checkKeys(options, clock);
  const cache = maxEntries > 0 ? createTokenCache({ maxEntries, maxBytes, clock }) : undefined;
  const revoked: RevocationList | undefined =
    options.revocation === undefined || options.revocation === false ? undefined : createRevocationList(options.revocation, options.issuer, clock);
  const resolver = createKeyResolver(keys, () => cache?.clear());
  const resolveKey = (header: JWSHeaderParameters) => resolver.resolve(header);
  const verifyOptions: JWTVerifyOptions = {
    issuer: options.issuer,
    ...(audience === undefined ? {} : { audience }),
    algorithms,
    clockTolerance: clockSkewSeconds,
    // RFC 9068 §4: the `typ` header must be "at+jwt"; jose compares media types, so
    // "application/at+jwt" passes too (RFC 7515 §4.1.9).
    typ: "at+jwt",
    requiredClaims: [...REQUIRED_CLAIMS],
  };
  const pending = new Map<string, Promise<AuthClaims>>();

  async function verifyFully(token: string): Promise<AuthClaims> {
    try {
      // jose reads the real clock itself; a copy of the options per call only for another clock.
      const options = clock === Date.now ? verifyOptions : { ...verifyOptions, currentDate: new Date(clock()) };
      const { payload, key } = await jwtVerify(token, resolveKey, options);
      const claims = toAuthClaims(payload);
      // RFC 7519 §4.1.6: `iat` is when the token was issued; one from further in the future than the
      // skew allows was not issued by a clock we trust (jose checks `iat` only against a max age).
      if (claims.iat > clock() / 1000 + clockSkewSeconds) throw new TokenVerificationError("token issued in the future");
      // Only now, every check passed (the audience check included), may the token be cached; and
      // only if its key is still in the newest set read, which a concurrent read may have changed.
      if (cache !== undefined && resolver.isCurrent(key)) cache.set(token, claims, (claims.exp + clockSkewSeconds) * 1000);
      return claims;
    } catch (err) {
      throw toVerificationError(err);
    }
  }

  function verifySigned(token: string): Promise<AuthClaims> {
    if (typeof token !== "string" || token === "") return Promise.reject(new TokenVerificationError("malformed token"));
    // The issuer never mints a longer token (rules.ts), so a longer one is not parsed at all.
    if (token.length > maxTokenLength) return Promise.reject(new TokenVerificationError("token too large"));
    if (cache === undefined) return verifyFully(token);
    const hit = cache.get(token);
    if (hit !== undefined) return Promise.resolve(hit);
    let inflight = pending.get(token);
    if (inflight === undefined) {
      inflight = verifyFully(token).finally(() => pending.delete(token));
      pending.set(token, inflight);
    }
    return inflight;
  }

  // After the signature, so only a token we would accept makes us wait for the list; on every
  // call, cache hits included, so a cached token stops passing once its jti is listed.
  async function notRevoked(claims: AuthClaims, list: RevocationList): Promise<AuthClaims> {
    const ids = list.usable() ?? (await list.load());
    if (ids.has(claims.jti)) throw new TokenVerificationError("token revoked", { reason: "revoked" });
    return claims;
  }

  return {
    verify(token) {
      const verified = verifySigned(token);
      return revoked === undefined ? verified : verified.then((claims) => notRevoked(claims, revoked));
    },
    cached(token) {
      const hit = cache?.get(token);
      if (hit === undefined || revoked === undefined) return hit;
      // A Set lookup; a listed token, or a list that must be fetched first, goes the verify path.
      const ids = revoked.usable();
      return ids !== undefined && !ids.has(hit.jti) ? hit : undefined;
    },
  };
}
