import type { JWTPayload } from "jose";
import { InvalidClientError } from "../errors.js";
import { maxJtiLength } from "../rules.js";

// What every client assertion (RFC 7523 private_key_jwt, or a federated issuer's token) must hold
// once jose has checked its signature, `exp` and `nbf`: the checks jose does not make.

/** AssertionTimes are an accepted assertion's `exp` and how long its single-use mark must last. */
export interface AssertionTimes {
  exp: number;
  /** useTtlMs keeps the single-use mark while the assertion could still be accepted (exp + skew). */
  useTtlMs: number;
}

/**
 * checkAssertionTimes refuses an assertion whose `exp` is further ahead than `maxLifetimeSeconds`
 * or whose `iat` is in the future (RFC 7519 §4.1.6; jose checks iat only for a maximum age), and
 * a `jti` that is not 1-maxJtiLength characters when present (`jtiRequired`: also when absent).
 */
export function checkAssertionClaims(
  payload: JWTPayload,
  options: { atMs: number; skewSeconds: number; maxLifetimeSeconds: number; jtiRequired: boolean },
): AssertionTimes {
  const { skewSeconds: skew, maxLifetimeSeconds } = options;
  const nowSeconds = Math.floor(options.atMs / 1000);
  const exp = payload.exp as number;
  if (exp > nowSeconds + maxLifetimeSeconds + skew)
    throw new InvalidClientError(`the client assertion's exp must be at most ${maxLifetimeSeconds} seconds ahead`);
  if (typeof payload.iat === "number" && payload.iat > nowSeconds + skew) throw new InvalidClientError("the client assertion's iat is in the future");
  const jti = payload.jti;
  if ((jti !== undefined || options.jtiRequired) && (typeof jti !== "string" || jti.length === 0 || jti.length > maxJtiLength)) {
    throw new InvalidClientError(`the client assertion's jti must be 1-${maxJtiLength} characters`);
  }
  return { exp, useTtlMs: Math.max(1, exp + skew - nowSeconds) * 1000 };
}
