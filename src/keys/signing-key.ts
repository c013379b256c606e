import { createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject, type SignKeyObjectInput } from "node:crypto";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { calculateJwkThumbprint, type JWK } from "jose";
import { SigningKeySchema, type SigningKey as SigningKeyRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { signingAlgorithms, type SigningAlgorithm } from "./algorithms.js";

const generate = promisify(generateKeyPair);

// RFC 7518 §3.3 asks for at least 2048 bits; every RSA key the issuer makes has exactly this many.
const rsaModulusBits = 2048;

/**
 * signatureBytes is the signature length of each algorithm's keys as the issuer makes them: the
 * RSA modulus, ES256's r||s (RFC 7518 §3.4), Ed25519's R||S (RFC 8032 §5.1.6).
 */
export const signatureBytes: Readonly<Record<SigningAlgorithm, number>> = { RS256: rsaModulusBits / 8, ES256: 64, EdDSA: 64 };

/** kidLength is the length of every kid: an RFC 7638 SHA-256 thumbprint, base64url. */
export const kidLength = 43;

/** encodeHeader returns a key's base64url JWS protected header (RFC 7515 §5.1), `typ` per RFC 9068 §2.1. */
export function encodeHeader(alg: SigningAlgorithm, kid: string): string {
  return Buffer.from(JSON.stringify({ alg, kid, typ: "at+jwt" })).toString("base64url");
}

/** PublicJwk is a public signing key as published in the JWKS (RFC 7517 §4). */
export interface PublicJwk extends JWK {
  kid: string;
  alg: SigningAlgorithm;
  use: "sig";
}

/** SigningKey is one private key, imported once, ready to sign JWS signing inputs. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly createTime: number;
  readonly publicJwk: PublicJwk;
  /** encodedHeader is the base64url JWS protected header, encoded once per key (RFC 7515 §5.1). */
  readonly encodedHeader: string;
  /**
   * sign signs `input` on the event loop, or, with `onThreadPool` and an RSA key, on libuv's thread
   * pool: that pays only when cores are idle, i.e. fewer worker processes than cores.
   */
  sign(input: Buffer, onThreadPool?: boolean): Promise<Buffer>;
  /** toRecord returns the record the store keeps (PKCS #8 DER private key). */
  toRecord(): SigningKeyRecord;
}

function signer(alg: SigningAlgorithm, privateKey: KeyObject): SigningKey["sign"] {
  // RFC 7518 §3.3 RS256 = RSASSA-PKCS1-v1_5 SHA-256; §3.4 ES256 wants the raw r||s signature
  // (IEEE P1363), not DER; RFC 8037 §3.1 EdDSA takes no digest.
  const digest = alg === "EdDSA" ? null : "sha256";
  const key: KeyObject | SignKeyObjectInput = alg === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" } : privateKey;
  // Only an RSA signature (~0.4-1 ms) is worth the hand-off to a pool thread and back; ES256 and
  // EdDSA (~40 µs) cost less than the hand-off itself.
  const pooled = alg === "RS256";
  return async (input, onThreadPool = false) => {
    if (!onThreadPool || !pooled) return sign(digest, input, key);
    return new Promise((resolve, reject) => {
      sign(digest, input, key, (err, signature) => (err ? reject(err) : resolve(signature)));
    });
  };
}

async function fromPrivateKey(alg: SigningAlgorithm, privateKey: KeyObject, createTime: number): Promise<SigningKey> {
  const jwk = createPublicKey(privateKey).export({ format: "jwk" }) as JWK;
  // RFC 7638 thumbprint: a kid derived from the key itself, the same on every instance.
  const kid = await calculateJwkThumbprint(jwk, "sha256");
  const publicJwk: PublicJwk = { ...jwk, kid, alg, use: "sig" };
  const encodedHeader = encodeHeader(alg, kid);
  return {
    kid,
    alg,
    createTime,
    publicJwk,
    encodedHeader,
    sign: signer(alg, privateKey),
    toRecord: () =>
      create(SigningKeySchema, {
        kid,
        alg,
        privateKey: new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" })),
        createTimeMs: BigInt(createTime),
      }),
  };
}

/** generateSigningKey makes a new key: RSA 2048, P-256 or Ed25519 for RS256, ES256, EdDSA. */
export async function generateSigningKey(alg: SigningAlgorithm, now: number = Date.now()): Promise<SigningKey> {
  const { privateKey } =
    alg === "RS256"
      ? await generate("rsa", { modulusLength: rsaModulusBits })
      : alg === "ES256"
        ? await generate("ec", { namedCurve: "P-256" })
        : await generate("ed25519");
  return fromPrivateKey(alg, privateKey, now);
}

/**
 * signingKeyFromRecord imports a stored key from its PKCS #8 DER (`der`: the decrypted private key,
 * default the record's own clear bytes); it throws if the record is not a key of its alg.
 */
export async function signingKeyFromRecord(record: SigningKeyRecord, der: Uint8Array = record.privateKey): Promise<SigningKey> {
  const alg = record.alg as SigningAlgorithm;
  if (!signingAlgorithms.includes(alg)) throw new Error(`stored signing key ${record.kid} has an unknown alg "${record.alg}"`);
  const privateKey = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  const key = await fromPrivateKey(alg, privateKey, Number(record.createTimeMs));
  if (key.kid !== record.kid) throw new Error(`stored signing key ${record.kid} does not match its private key`);
  return key;
}
