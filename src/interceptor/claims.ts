// The verified claims a handler sees, with the token's scopes normalized into one list.
import type { JWTPayload } from "jose";
import { TokenVerificationError } from "./verification-error.js";

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
