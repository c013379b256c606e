// Verifies RFC 9068 JWT access tokens: signature with our keys only, then typ, iss, aud, exp, nbf;
// a token that passed is remembered until it expires, so its signature is checked once.
import { jwtVerify, type JWSHeaderParameters, type JWTVerifyOptions } from "jose";
import { REQUIRED_CLAIMS, toAuthClaims, type AuthClaims } from "./claims.js";
import { toVerificationError } from "./jose-errors.js";
import { createKeyResolver } from "./key-resolver.js";
import { createTokenCache } from "./token-cache.js";
import { TokenVerificationError } from "./verification-error.js";
import { checkVerifierOptions, type TokenVerifierOptions } from "./verifier-options.js";

/** TokenVerifier checks access tokens. */
export interface TokenVerifier {
  /**
   * verify returns the token's claims, or throws TokenVerificationError (the token is not valid)
   * or KeysUnavailableError (the keys could not be read; fail closed, retry later).
   */
  verify(token: string): Promise<AuthClaims>;
  /**
   * cached returns the claims of `token` when it was verified before and has not expired since
   * (no I/O, no signature check); undefined otherwise, or always when the token cache is off.
   */
  cached(token: string): AuthClaims | undefined;
}

/** MAX_TOKEN_LENGTH is the longest token, in characters, that is parsed at all (8 KiB). */
export const MAX_TOKEN_LENGTH = 8192;

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
  const { issuer, audience, algorithms, clockSkewSeconds, maxEntries, clock, keys } = checkVerifierOptions(options);
  const cache = maxEntries > 0 ? createTokenCache({ maxEntries, clock }) : undefined;
  const resolver = createKeyResolver(keys, algorithms, () => cache?.clear());
  const resolveKey = (header: JWSHeaderParameters) => resolver.resolve(header);
  const verifyOptions: JWTVerifyOptions = {
    issuer,
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
      // Only now, every check passed (the audience check included), may the token be cached; and
      // only if its key is still in the newest set read, which a concurrent read may have changed.
      if (cache !== undefined && resolver.isCurrent(key)) cache.set(token, claims, (claims.exp + clockSkewSeconds) * 1000);
      return claims;
    } catch (err) {
      throw toVerificationError(err);
    }
  }

  return {
    verify(token) {
      if (typeof token !== "string" || token === "") return Promise.reject(new TokenVerificationError("malformed token"));
      if (token.length > MAX_TOKEN_LENGTH) return Promise.reject(new TokenVerificationError("token too large"));
      if (cache === undefined) return verifyFully(token);
      const hit = cache.get(token);
      if (hit !== undefined) return Promise.resolve(hit);
      let inflight = pending.get(token);
      if (inflight === undefined) {
        inflight = verifyFully(token).finally(() => pending.delete(token));
        pending.set(token, inflight);
      }
      return inflight;
    },
    cached(token) {
      return cache?.get(token);
    },
  };
}
