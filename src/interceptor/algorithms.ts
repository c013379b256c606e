// Signature algorithms the verifier may accept, and which JWKs fit each of them.

/** KeyShape says which JWK may verify an algorithm: its `kty` and, for EC/OKP keys, its `crv`. */
export interface KeyShape {
  readonly kty: "RSA" | "EC" | "OKP";
  readonly crv?: readonly string[];
}

// Asymmetric algorithms only. RFC 8725 §3.1: a verifier must allow only the algorithms it expects,
// never "none" (§2.1), and never an HMAC algorithm next to public keys: an attacker who signs with
// HS256 using the public key as the secret would otherwise pass (the "key confusion" attack, §2.1).
const shapes: Readonly<Record<string, KeyShape>> = {
  RS256: { kty: "RSA" },
  RS384: { kty: "RSA" },
  RS512: { kty: "RSA" },
  PS256: { kty: "RSA" },
  PS384: { kty: "RSA" },
  PS512: { kty: "RSA" },
  ES256: { kty: "EC", crv: ["P-256"] },
  ES384: { kty: "EC", crv: ["P-384"] },
  ES512: { kty: "EC", crv: ["P-521"] },
  EdDSA: { kty: "OKP", crv: ["Ed25519"] },
  Ed25519: { kty: "OKP", crv: ["Ed25519"] },
};

/** DEFAULT_ALGORITHMS is what the verifier accepts unless told otherwise. */
export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(["RS256", "ES256", "EdDSA"]);

/** keyShapeOf returns the JWK shape that verifies `alg`, or undefined for an algorithm not accepted here. */
export function keyShapeOf(alg: string): KeyShape | undefined {
  return Object.hasOwn(shapes, alg) ? shapes[alg] : undefined;
}

/**
 * checkAlgorithms validates the `algorithms` option and returns it as a fresh array; it throws a
 * TypeError for an empty list, "none", any HS* (symmetric) or unknown algorithm (RFC 8725 §3.1).
 */
export function checkAlgorithms(algorithms: readonly string[] | undefined): string[] {
  if (algorithms === undefined) return [...DEFAULT_ALGORITHMS];
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new TypeError("algorithms: must be a non-empty array of JWS algorithm names");
  }
  for (const alg of algorithms) {
    if (typeof alg !== "string" || keyShapeOf(alg) === undefined) {
      throw new TypeError(
        `algorithms: ${JSON.stringify(alg)} is not allowed; use asymmetric algorithms among ${Object.keys(shapes).join(", ")}`,
      );
    }
  }
  return [...new Set(algorithms)];
}
