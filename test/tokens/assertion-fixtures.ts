import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";

// Client keys and RFC 7523 client assertions, as a client library would make them.

/** jwtBearer is the RFC 7523 §2.2 client_assertion_type. */
export const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** ClientKey is a client's key pair: the public JWK to register (with its kid) and the private key to sign with. */
export interface ClientKey {
  alg: string;
  kid: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
  /** privateJwk is the private key as a JWK, to import it for another algorithm. */
  privateJwk: JWK;
}

/** newClientKey makes a key pair for `alg` (ES256 by default), named `kid`. */
export async function newClientKey(alg = "ES256", kid = `k-${randomUUID().slice(0, 8)}`): Promise<ClientKey> {
  const pair = await generateKeyPair(alg, { extractable: true, ...(alg.startsWith("RS") || alg.startsWith("PS") ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(pair.publicKey);
  return { alg, kid, publicJwk: { ...jwk, kid }, privateKey: pair.privateKey, privateJwk: await exportJWK(pair.privateKey) };
}

/** AssertionOptions changes an assertion from the valid one: claims replaced or removed (undefined), another header. */
export interface AssertionOptions {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** nowSeconds is the signer's clock; default the real one. */
  nowSeconds?: number;
}

/** signAssertion signs a client assertion for `clientId` to `audience`: iss = sub = clientId, exp 60 s ahead, a fresh jti. */
export async function signAssertion(key: ClientKey, clientId: string, audience: string, options: AssertionOptions = {}): Promise<string> {
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: clientId, sub: clientId, aud: audience, iat: now, exp: now + 60, jti: randomUUID(), ...options.claims };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...options.header }).sign(key.privateKey);
}

/** unsignedAssertion is an `alg: none` JWT (RFC 7519 §6) with the given claims. */
export function unsignedAssertion(kid: string, claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", kid })}.${part(claims)}.`;
}
