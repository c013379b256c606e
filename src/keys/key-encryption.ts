import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { clone } from "@bufbuild/protobuf";
import { SigningKeySchema, type SigningKey as SigningKeyRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";

// Private signing keys at rest: AES-256-GCM (NIST SP 800-38D) under M2M_KEY_ENCRYPTION_KEY, a
// fresh 96-bit nonce per key, the 128-bit tag appended to the ciphertext, and the kid as
// additional authenticated data, so a ciphertext moved onto another key's record fails to open.
// (The state store's secret-hash key is not covered: it stays as it is, in clear. A restore
// candidate, which carries it, is sealed whole with sealBytes.)

/** keyEncryptionVariable names the environment variable that holds the key encryption key. */
export const keyEncryptionVariable = "M2M_KEY_ENCRYPTION_KEY";

const nonceBytes = 12;
const tagBytes = 16;

/**
 * KeyEncryptionError says the stored signing keys cannot be opened with the configured key
 * encryption key (or its absence): an operator's configuration error, fatal at start.
 */
export class KeyEncryptionError extends Error {
  /** variable is the environment variable to fix. */
  readonly variable = keyEncryptionVariable;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KeyEncryptionError";
  }
}

/** checkKeyEncryptionKey throws a TypeError naming `option` unless `key` is 32 bytes (AES-256). */
export function checkKeyEncryptionKey(option: string, key: unknown): Uint8Array | undefined {
  if (key === undefined) return undefined;
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new TypeError(`${option}: must be 32 bytes (AES-256)`);
  return new Uint8Array(key);
}

/** isEncrypted reports whether a stored key's private key is AES-256-GCM ciphertext. */
export function isEncrypted(record: SigningKeyRecord): boolean {
  return record.privateKeyNonce.length > 0;
}

// AES-256-GCM with `aad` bound in: ciphertext ‖ tag.
function encrypt(plain: Uint8Array, key: Uint8Array, nonce: Uint8Array, aad: string): Buffer {
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

// The inverse of encrypt; throws on a wrong key, nonce, aad or a changed byte.
function decrypt(sealed: Uint8Array, key: Uint8Array, nonce: Uint8Array, aad: string): Uint8Array {
  const data = Buffer.from(sealed);
  if (data.length < tagBytes || nonce.length !== nonceBytes) throw new Error("malformed ciphertext");
  const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(data.subarray(data.length - tagBytes));
  return new Uint8Array(Buffer.concat([decipher.update(data.subarray(0, data.length - tagBytes)), decipher.final()]));
}

/** sealRecord returns a copy of a clear record with its private key encrypted under `key`. */
export function sealRecord(record: SigningKeyRecord, key: Uint8Array): SigningKeyRecord {
  if (isEncrypted(record)) return record;
  const nonce = randomBytes(nonceBytes);
  const copy = clone(SigningKeySchema, record);
  copy.privateKey = new Uint8Array(encrypt(record.privateKey, key, nonce, record.kid));
  copy.privateKeyNonce = new Uint8Array(nonce);
  return copy;
}

/** sealBytes encrypts `plain` under `key`, bound to `context` (e.g. what the bytes are): nonce ‖ ciphertext ‖ tag. */
export function sealBytes(plain: Uint8Array, key: Uint8Array, context: string): Uint8Array {
  const nonce = randomBytes(nonceBytes);
  return new Uint8Array(Buffer.concat([nonce, encrypt(plain, key, nonce, context)]));
}

/** openBytes opens what sealBytes made with the same key and context; it throws KeyEncryptionError otherwise. */
export function openBytes(sealed: Uint8Array, key: Uint8Array, context: string): Uint8Array {
  try {
    return decrypt(sealed.subarray(nonceBytes), key, sealed.subarray(0, nonceBytes), context);
  } catch (cause) {
    throw new KeyEncryptionError(`${keyEncryptionVariable} cannot decrypt the ${context}`, { cause });
  }
}

/**
 * openPrivateKey returns a stored key's PKCS #8 DER private key. It throws KeyEncryptionError when
 * the key is encrypted and `key` is undefined, or when `key` does not open it.
 */
export function openPrivateKey(record: SigningKeyRecord, key: Uint8Array | undefined): Uint8Array {
  if (!isEncrypted(record)) return record.privateKey;
  if (key === undefined) throw new KeyEncryptionError(`signing keys are encrypted: set ${keyEncryptionVariable}`);
  try {
    if (record.privateKey.length <= tagBytes) throw new Error("malformed ciphertext");
    return decrypt(record.privateKey, key, record.privateKeyNonce, record.kid);
  } catch (cause) {
    throw new KeyEncryptionError(`${keyEncryptionVariable} cannot decrypt the stored signing keys`, { cause });
  }
}
