// What a verification yields: the verified claims a handler sees, or an error whose message is
// safe to return to the caller (it never holds the token or any of its contents; `cause` keeps the
// underlying error for logs only).
import { errors, type JWTPayload } from "jose";

/** TokenVerificationError means the token is not acceptable: RFC 6750 §3.1 `invalid_token`. */
export class TokenVerificationError extends Error {
  /** code is always "invalid_token" (RFC 6750 §3.1). */
  readonly code = "invalid_token" as const;
  /** reason tells an expired or revoked token from any other invalid one (the auth interceptor's onRejected). */
  readonly reason: "invalid_token" | "expired" | "revoked";

  constructor(message: string, options?: { cause?: unknown; reason?: "expired" | "revoked" }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TokenVerificationError";
    this.reason = options?.reason ?? "invalid_token";
  }
}

/**
 * KeysUnavailableError means the verification keys could not be read (JWKS unreachable, key source
 * threw): the token was not judged, the caller should fail closed and may retry later.
 */
export class KeysUnavailableError extends Error {
  /** code is always "unavailable". */
  readonly code = "unavailable" as const;
  /** retryable is always true: the same token may verify once the keys are back. */
  readonly retryable = true as const;

  constructor(message = "verification keys are unavailable", options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KeysUnavailableError";
  }
}

/**
 * AuthClaims is a verified access token's JWT Claims Set (RFC 9068 §2.2) plus `scopes`: every scope
 * the token grants, from `scope` (space-delimited, RFC 9068 §2.2.3), `scopes` and `scp` (arrays),
 * deduplicated in first-seen order. `oid` (the organization), when present, is a non-empty
 * string; other custom claims are passed through untouched.
 */
export type AuthClaims = JWTPayload & {
  iss: string;
  sub: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  oid?: string;
  scopes: string[];
};

/** REQUIRED_CLAIMS lists the RFC 9068 §2.2 claims every token must carry besides `iss` and `aud`. */
export const REQUIRED_CLAIMS: readonly string[] = Object.freeze(["exp", "iat", "sub", "client_id", "jti"]);

// RFC 6749 §3.3: scope values are space-delimited. Values of the wrong type are ignored, which can
// only grant less.
function scopeValues(value: unknown): string[] {
  if (typeof value === "string") return value.split(" ");
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

/** grantedScopes returns the union of the `scope`, `scopes` and `scp` claims, deduplicated. */
export function grantedScopes(payload: JWTPayload): string[] {
  const all = [...scopeValues(payload["scope"]), ...scopeValues(payload["scopes"]), ...scopeValues(payload["scp"])];
  return [...new Set(all.filter((s) => s !== ""))];
}

// Verified claims may be cached and handed to many calls, so no handler may change them.
function freezeDeep<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) freezeDeep(member);
    Object.freeze(value);
  }
  return value;
}

/**
 * toAuthClaims checks the types of the claims jose does not check (RFC 9068 §2.2, RFC 7519 §4.1)
 * and of `oid` when present (a non-empty string: handlers scope access by it), and adds `scopes`;
 * it throws TokenVerificationError("malformed token") on a wrong type. The
 * result is deeply frozen: the verifier's token cache shares it between calls.
 */
export function toAuthClaims(payload: JWTPayload): AuthClaims {
  for (const claim of ["iss", "sub", "jti", "client_id"]) {
    if (typeof payload[claim] !== "string") throw new TokenVerificationError("malformed token");
  }
  if (typeof payload.iat !== "number" || typeof payload.exp !== "number") {
    throw new TokenVerificationError("malformed token");
  }
  const oid = payload["oid"];
  if (oid !== undefined && (typeof oid !== "string" || oid === "")) throw new TokenVerificationError("malformed token");
  return freezeDeep({ ...payload, scopes: grantedScopes(payload) } as AuthClaims);
}

// Safe messages for jose's claim failures, by claim.
const claimMessages: Record<string, string> = {
  iss: "issuer mismatch",
  aud: "audience mismatch",
  nbf: "token not yet valid",
  exp: "token expired",
  typ: "typ must be at+jwt",
};

/** toVerificationError turns anything jwtVerify threw into a TokenVerificationError or KeysUnavailableError. */
export function toVerificationError(err: unknown): TokenVerificationError | KeysUnavailableError {
  if (err instanceof TokenVerificationError || err instanceof KeysUnavailableError) return err;
  const fail = (message: string) => new TokenVerificationError(message, { cause: err });
  if (err instanceof errors.JWTExpired) return new TokenVerificationError("token expired", { cause: err, reason: "expired" });
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
  // jose throws a TypeError for a key it will not use, e.g. an RSA key under 2048 bits (RFC 7518
  // §3.3): the token was not judged, the issuer's key set is at fault.
  if (err instanceof TypeError) return new KeysUnavailableError("verification keys are unavailable: a key is not usable", { cause: err });
  return fail("token rejected");
}
