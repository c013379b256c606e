import { createPublicKey, type JsonWebKey as NodeJwk } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { ClientJwkSchema, ClientJwkSetSchema, type ClientJwk, type ClientJwkSet } from "../../gen/m2mauth/v1/clients_pb.js";
import { InvalidArgumentError } from "../errors.js";
import { clientAssertionAlgorithms } from "../rules.js";

// A client's registered public keys for RFC 7523 private_key_jwt. The proto has no field for
// private (`d`, `p`, …) or symmetric (`k`) material, so none can be stored; what is checked here
// is that each key is a well-formed asymmetric public key the verifier will accept.

/** maxClientKeys is how many keys a client may register: enough to rotate, few enough to audit. */
export const maxClientKeys = 5;

const kidPattern = /^[A-Za-z0-9_.:+/=-]{1,128}$/;
const base64url = /^[A-Za-z0-9_-]+$/;
// An 8192-bit modulus is 1366 base64url characters; nothing legitimate is longer.
const maxMemberLength = 1400;
const minRsaBits = 2048;
const maxRsaBits = 8192;

/** Which algorithms suit each key type (RFC 7518 §3.1, RFC 8037 §3.1). */
const curveAlgorithms: Record<string, readonly string[]> = {
  "P-256": ["ES256"],
  "P-384": ["ES384"],
  "P-521": ["ES512"],
  Ed25519: ["EdDSA"],
};
const rsaAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

/** keyAlgorithms lists the JWS algorithms a registered key verifies: its `alg` alone when set. */
export function keyAlgorithms(key: ClientJwk): string[] {
  const suited = key.kty === "RSA" ? rsaAlgorithms : (curveAlgorithms[key.crv] ?? []);
  const allowed = suited.filter((alg) => clientAssertionAlgorithms.includes(alg));
  return key.alg === "" ? allowed : allowed.filter((alg) => alg === key.alg);
}

/** toNodeJwk is the key as node:crypto and jose read it (only the members its type uses). */
export function toNodeJwk(key: ClientJwk): NodeJwk {
  if (key.kty === "RSA") return { kty: "RSA", n: key.n, e: key.e };
  if (key.kty === "EC") return { kty: "EC", crv: key.crv, x: key.x, y: key.y };
  return { kty: "OKP", crv: key.crv, x: key.x };
}

function checkKey(key: ClientJwk, field: string): void {
  const members: [string, string][] = [
    ["crv", key.crv],
    ["x", key.x],
    ["y", key.y],
    ["n", key.n],
    ["e", key.e],
  ];
  const needed: Record<string, readonly string[]> = { RSA: ["n", "e"], EC: ["crv", "x", "y"], OKP: ["crv", "x"] };
  const wanted = needed[key.kty];
  // RFC 7518 §6.4 "oct" keys are symmetric: a shared secret has no place in a public key set.
  if (wanted === undefined) throw new InvalidArgumentError(`${field}.kty`, 'must be "RSA", "EC" or "OKP" (asymmetric public keys only)');
  if (!kidPattern.test(key.kid)) throw new InvalidArgumentError(`${field}.kid`, "is required: 1-128 characters of A-Z a-z 0-9 _ . : + / = -");
  for (const [name, value] of members) {
    if (wanted.includes(name) ? value === "" : value !== "") {
      throw new InvalidArgumentError(`${field}.${name}`, wanted.includes(name) ? `is required for kty ${key.kty}` : `is not a member of a kty ${key.kty} key`);
    }
    if (name !== "crv" && value !== "" && (value.length > maxMemberLength || !base64url.test(value))) {
      throw new InvalidArgumentError(`${field}.${name}`, `must be unpadded base64url, at most ${maxMemberLength} characters`);
    }
  }
  if (key.use !== "" && key.use !== "sig") throw new InvalidArgumentError(`${field}.use`, 'must be "sig" or unset: these keys only verify signatures');
  if (key.kty !== "RSA" && !(key.crv in curveAlgorithms && (key.kty === "OKP") === (key.crv === "Ed25519"))) {
    throw new InvalidArgumentError(`${field}.crv`, key.kty === "EC" ? "must be P-256, P-384 or P-521" : "must be Ed25519");
  }
  if (keyAlgorithms(key).length === 0) {
    throw new InvalidArgumentError(
      `${field}.alg`,
      `"${key.alg}" does not suit this key; use one of ${keyAlgorithms({ ...key, alg: "" }).join(", ")} or leave it unset`,
    );
  }
  let bits: number | undefined;
  try {
    bits = createPublicKey({ key: toNodeJwk(key), format: "jwk" }).asymmetricKeyDetails?.modulusLength;
  } catch {
    throw new InvalidArgumentError(field, "is not a valid public key (the point or modulus does not decode)");
  }
  if (key.kty === "RSA" && (bits === undefined || bits < minRsaBits || bits > maxRsaBits)) {
    throw new InvalidArgumentError(`${field}.n`, `the RSA modulus must be ${minRsaBits} to ${maxRsaBits} bits`);
  }
}

function checkKeys(keys: readonly ClientJwk[], field: string, max: number): void {
  if (keys.length > max) throw new InvalidArgumentError(`${field}.keys`, `at most ${max} keys`);
  const kids = new Set<string>();
  keys.forEach((key, i) => {
    checkKey(key, `${field}.keys[${i}]`);
    // The assertion's `kid` must pick exactly one key.
    if (kids.has(key.kid)) throw new InvalidArgumentError(`${field}.keys[${i}].kid`, `"${key.kid}" is listed twice`);
    kids.add(key.kid);
  });
}

/** validateJwks checks a client's public key set; undefined or no keys means the client has none. */
export function validateJwks(jwks: ClientJwkSet | undefined): ClientJwkSet | undefined {
  if (jwks === undefined || jwks.keys.length === 0) return undefined;
  checkKeys(jwks.keys, "jwks", maxClientKeys);
  return jwks;
}

/** maxDocumentKeys is how many keys a client's jwks_uri document may hold: room for keys of other uses is not needed. */
export const maxDocumentKeys = 10;

// RFC 7518 §6.2.2, §6.3.2 and §6.4.1: members only a private or symmetric key has.
const secretMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const publicMembers = ["kty", "kid", "alg", "use", "crv", "x", "y", "n", "e"] as const;

/**
 * jwksOfDocument reads a JWK Set a client publishes at its jwks_uri as inline keys are read: the
 * whole document is refused (InvalidArgumentError naming `jwks_uri`) when any key holds private or
 * symmetric material, or would be refused at registration. Members outside the public ones
 * (`key_ops`, `x5c`, …) are dropped: only the public key itself is ever used.
 */
export function jwksOfDocument(doc: unknown): ClientJwkSet {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== "object" || doc === null || !Array.isArray(keys)) throw new InvalidArgumentError("jwks_uri", "the document is not a JWK Set");
  const read = keys.map((raw: unknown, i) => {
    if (typeof raw !== "object" || raw === null) throw new InvalidArgumentError(`jwks_uri.keys[${i}]`, "is not a JWK");
    const jwk = raw as Record<string, unknown>;
    // A published private or shared key is compromised: none of the document is trusted.
    if (jwk.kty === "oct" || secretMembers.some((name) => name in jwk)) {
      throw new InvalidArgumentError(`jwks_uri.keys[${i}]`, "holds private or symmetric key material: only public keys may be published");
    }
    const members: Record<string, string> = {};
    for (const name of publicMembers) {
      const value = jwk[name] ?? "";
      if (typeof value !== "string") throw new InvalidArgumentError(`jwks_uri.keys[${i}].${name}`, "must be a string");
      members[name] = value;
    }
    return create(ClientJwkSchema, members);
  });
  checkKeys(read, "jwks_uri", maxDocumentKeys);
  return create(ClientJwkSetSchema, { keys: read });
}
