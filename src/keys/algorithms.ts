/** SigningAlgorithm is a JWS `alg` the issuer signs with (RFC 7518 §3.1, RFC 8037 §3.1). */
export type SigningAlgorithm = "RS256" | "ES256" | "EdDSA";

/** signingAlgorithms lists every algorithm the issuer can sign with. */
export const signingAlgorithms: readonly SigningAlgorithm[] = ["RS256", "ES256", "EdDSA"];
