import { randomUUID } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, type JSONWebKeySet } from "jose";

// RFC 9068 access tokens for the interceptor scenarios, minted in the orchestrator with a key made
// for this run: the servers and workers get the public JWKS and the tokens, never the private key.

/** VerifyAlg is a signing algorithm the interceptor scenarios verify. */
export type VerifyAlg = "RS256" | "ES256" | "EdDSA";

/** BENCH_ISSUER is the `iss` of every bench access token. */
export const BENCH_ISSUER = "http://m2m-auth.bench";
/** BENCH_AUDIENCE is the `aud` of every bench access token, the service's name. */
export const BENCH_AUDIENCE = "deployment-api.acmecorp.com";
/** BENCH_SCOPE is what the tokens grant; ListDeployments requires read:deployments. */
export const BENCH_SCOPE = "read:deployments deploy:applications";

/** TokenKit is one alg's public key set and tokens signed by its private key. */
export interface TokenKit {
  alg: VerifyAlg;
  /** jwks holds the one public key, with kid, alg and use, as a JWKS endpoint would publish it. */
  jwks: JSONWebKeySet;
  /** token grants BENCH_SCOPE for an hour. */
  token: string;
  /** unscopedToken is valid but lacks read:deployments, so a scope check must refuse it. */
  unscopedToken: string;
}

/** createTokenKit makes a fresh key for `alg` (RSA 2048, P-256 or Ed25519) and signs two tokens. */
export async function createTokenKit(alg: VerifyAlg): Promise<TokenKit> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : {});
  const kid = `bench-${alg.toLowerCase()}`;
  const sign = (scope: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope, client_id: "bench-client", oid: "org_bench" })
      .setProtectedHeader({ alg, kid, typ: "at+jwt" })
      .setIssuer(BENCH_ISSUER)
      .setAudience(BENCH_AUDIENCE)
      .setSubject("bench-client")
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  };
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg, use: "sig" }] };
  return { alg, jwks, token: await sign(BENCH_SCOPE), unscopedToken: await sign("deploy:applications") };
}
