import type { SigningKey } from "./signing-key.js";

/** encodeClaims returns the base64url JWS payload of `claims` (RFC 7515 §3). */
export function encodeClaims(claims: object): string {
  return Buffer.from(JSON.stringify(claims)).toString("base64url");
}

/**
 * signJwt returns the compact JWS (RFC 7515 §7.1) of `claims` under `key`. The header is encoded
 * once per key; per token only the claims are encoded and signed (`onThreadPool`: see SigningKey.sign).
 */
export async function signJwt(key: SigningKey, claims: object, onThreadPool = false): Promise<string> {
  const signingInput = `${key.encodedHeader}.${encodeClaims(claims)}`;
  const signature = await key.sign(Buffer.from(signingInput), onThreadPool);
  return `${signingInput}.${signature.toString("base64url")}`;
}
