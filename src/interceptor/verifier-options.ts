// The options of createTokenVerifier, and their checks: a bad option throws a TypeError naming it.
import { checkAlgorithms } from "./algorithms.js";
import { createJwksCache } from "./jwks-cache.js";
import { createKeySource, type KeySource, type TokenVerifierKeys } from "./key-source.js";
import { checkMaxEntries, type TokenCacheOptions } from "./token-cache.js";

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
  /** clockSkewSeconds is the leeway for `exp` and `nbf` (RFC 7519 §4.1.4-5), 0 to 300; default 30. */
  clockSkewSeconds?: number;
  /**
   * tokenCache bounds the cache of verified tokens, `{ maxEntries }` (default 10_000); false or
   * maxEntries 0 turns it off. A cached token is not re-verified until its `exp` (plus the skew);
   * an entry costs about the token's length plus its claims.
   */
  tokenCache?: Pick<TokenCacheOptions, "maxEntries"> | false;
  /** clock returns the current time in ms, for exp/nbf and every cache age; default Date.now. */
  clock?: () => number;
}

/** CheckedVerifierOptions are the verifier's options, checked and with defaults filled in. */
export interface CheckedVerifierOptions {
  readonly issuer: string;
  readonly audience: string | string[] | undefined;
  readonly algorithms: string[];
  readonly clockSkewSeconds: number;
  /** maxEntries is the token cache bound; 0 when the cache is off. */
  readonly maxEntries: number;
  readonly clock: () => number;
  readonly keys: KeySource;
}

const defaultClockSkewSeconds = 30;
const maxClockSkewSeconds = 300;

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

function checkTokenCache(tokenCache: unknown): number {
  if (tokenCache === undefined) return checkMaxEntries("tokenCache.maxEntries", undefined);
  if (tokenCache === false) return 0;
  if (typeof tokenCache !== "object" || tokenCache === null) {
    throw new TypeError("tokenCache: must be { maxEntries } or false");
  }
  return checkMaxEntries("tokenCache.maxEntries", (tokenCache as TokenCacheOptions).maxEntries);
}

function checkKeys(options: TokenVerifierOptions, clock: () => number): KeySource {
  const hasKeys = options.keys !== undefined;
  const hasUri = options.jwksUri !== undefined;
  if (hasKeys === hasUri) throw new TypeError("keys, jwksUri: give exactly one of keys and jwksUri");
  return hasUri ? createJwksCache({ jwksUri: options.jwksUri as string, clock }) : createKeySource(options.keys as TokenVerifierKeys, clock);
}

/** checkVerifierOptions validates `options` and fills in defaults; it throws a TypeError naming a bad one. */
export function checkVerifierOptions(options: TokenVerifierOptions): CheckedVerifierOptions {
  if (typeof options?.issuer !== "string" || options.issuer === "") {
    throw new TypeError("issuer: must be a non-empty string");
  }
  if (options.clock !== undefined && typeof options.clock !== "function") throw new TypeError("clock: must be a function");
  const clock = options.clock ?? Date.now;
  return {
    issuer: options.issuer,
    audience: checkAudience(options.audience),
    algorithms: checkAlgorithms(options.algorithms),
    clockSkewSeconds: checkClockSkew(options.clockSkewSeconds),
    maxEntries: checkTokenCache(options.tokenCache),
    clock,
    keys: checkKeys(options, clock),
  };
}
