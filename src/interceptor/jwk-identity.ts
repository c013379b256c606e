// What makes two JWKs the same verification key: the kid and the public material (RFC 7517 §4).
import type { JWK } from "jose";

/** publicPart returns only a JWK's public members, so a set that carries private keys never yields one. */
export function publicPart(jwk: JWK): JWK {
  const { kty, crv, n, e, x, y } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, n, e, x, y }).filter(([, v]) => v !== undefined)) as JWK;
}

/** materialOf returns a string that is equal for two JWKs exactly when their public keys are. */
export function materialOf(jwk: JWK): string {
  return JSON.stringify(publicPart(jwk));
}

/** identityOf names a JWK by kid and public material; "" for an entry that is not an object. */
export function identityOf(jwk: unknown): string {
  if (typeof jwk !== "object" || jwk === null) return "";
  return `${(jwk as JWK).kid ?? ""}\u0000${materialOf(jwk as JWK)}`;
}
