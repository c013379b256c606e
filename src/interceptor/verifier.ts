// Verifies RFC 9068 JWT access tokens: signature with our keys only, then typ, iss, aud, exp, nbf.
import { errors, jwtVerify } from "jose";
import { checkAlgorithms } from "./algorithms.js";
import { REQUIRED_CLAIMS, toAuthClaims, type AuthClaims } from "./claims.js";
import { createKeyResolver } from "./key-resolver.js";
import { createKeySource, type TokenVerifierKeys } from "./key-source.js";
import { KeysUnavailableError, TokenVerificationError } from "./verification-error.js";

/** TokenVerifierOptions configures createTokenVerifier. */
export interface TokenVerifierOptions {
  /** issuer is the exact `iss` a token must carry (RFC 9068 §4). */
  issuer: string;
  /**
   * audience: the token's `aud` must contain at least one of these (RFC 9068 §4, RFC 7519 §4.1.3).
   * When omitted `aud` is not checked, which only suits a caller that checks it itself, like the
   * server's ValidateToken when it is not given an audience. The interceptor always requires it.
   */
  audience?: string | string[];
  /** keys is where verification keys come from: `{ jwksUri }`, a static JWKS, or a function. */
  keys: TokenVerifierKeys;
  /** algorithms accepted in the `alg` header; default RS256, ES256, EdDSA; never none or HS* (RFC 8725 §3.1). */
  algorithms?: readonly string[];
  /** clockSkewSeconds is the leeway for `exp` and `nbf` (RFC 7519 §4.1.4-5), 0 to 300; default 30. */
  clockSkewSeconds?: number;
}

/** TokenVerifier checks access tokens. */
export interface TokenVerifier {
  /**
   * verify returns the token's claims, or throws TokenVerificationError (the token is not valid)
   * or KeysUnavailableError (the keys could not be read; fail closed, retry later).
   */
  verify(token: string): Promise<AuthClaims>;
}

/** MAX_TOKEN_LENGTH is the longest token, in characters, that is parsed at all (8 KiB). */
export const MAX_TOKEN_LENGTH = 8192;

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

// Safe messages for jose's claim failures, by claim; the token itself is never quoted.
const claimMessages: Record<string, string> = {
  iss: "issuer mismatch",
  aud: "audience mismatch",
  nbf: "token not yet valid",
  exp: "token expired",
  typ: "typ must be at+jwt",
};

function toVerificationError(err: unknown): Error {
  if (err instanceof TokenVerificationError || err instanceof KeysUnavailableError) return err;
  const fail = (message: string) => new TokenVerificationError(message, { cause: err });
  if (err instanceof errors.JWTExpired) return fail("token expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "invalid") return fail("malformed token");
    if (err.reason === "missing" && !["iss", "aud"].includes(err.claim)) return fail(`missing ${err.claim} claim`);
    return fail(claimMessages[err.claim] ?? "malformed token");
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail("signature invalid");
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return fail("unknown key id");
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return fail("algorithm not allowed");
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return fail("malformed token");
  if (err instanceof errors.JOSENotSupported) return fail("malformed token"); // e.g. an unknown `crit`
  return fail("token rejected");
}

/**
 * createTokenVerifier returns a verifier for access tokens from one issuer. Options are checked
 * here: a bad one throws a TypeError naming it.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (typeof options?.issuer !== "string" || options.issuer === "") {
    throw new TypeError("issuer: must be a non-empty string");
  }
  const issuer = options.issuer;
  const audience = checkAudience(options.audience);
  const algorithms = checkAlgorithms(options.algorithms);
  const clockTolerance = checkClockSkew(options.clockSkewSeconds);
  const resolveKey = createKeyResolver(createKeySource(options.keys), algorithms);
  const requiredClaims = [...REQUIRED_CLAIMS];

  return {
    async verify(token) {
      if (typeof token !== "string" || token === "") throw new TokenVerificationError("malformed token");
      if (token.length > MAX_TOKEN_LENGTH) throw new TokenVerificationError("token too large");
      try {
        const { payload } = await jwtVerify(token, resolveKey, {
          issuer,
          ...(audience === undefined ? {} : { audience }),
          algorithms,
          clockTolerance,
          // RFC 9068 §4: the `typ` header must be "at+jwt"; jose compares media types, so
          // "application/at+jwt" passes too (RFC 7515 §4.1.9).
          typ: "at+jwt",
          requiredClaims,
        });
        return toAuthClaims(payload);
      } catch (err) {
        throw toVerificationError(err);
      }
    },
  };
}
