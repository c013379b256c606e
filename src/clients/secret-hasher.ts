import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { StateStore } from "../store/client-store.js";

/** secretHashKeyStateName is the state store entry that holds the secret-hash key. */
export const secretHashKeyStateName = "secret-hash-key";

/**
 * SecretHasher computes the keyed hash the store keeps instead of a secret. Secrets carry 256 bits
 * of randomness, so a slow password hash buys nothing against guessing; HMAC-SHA-256 under a key
 * kept apart from the records means a leaked record alone cannot even be checked offline.
 */
export interface SecretHasher {
  /** hash returns HMAC-SHA-256(key, secret). */
  hash(secret: string): Uint8Array;
  /** matches compares a hash with the stored ones in constant time; the index of the match or -1. */
  matches(hash: Uint8Array, stored: readonly Uint8Array[]): number;
  /** derive returns a sub-key for another purpose (e.g. page tokens), so one key serves all. */
  derive(purpose: string): Buffer;
}

/** createSecretHasher returns a hasher under a 32-byte key. */
export function createSecretHasher(options: { key: Uint8Array }): SecretHasher {
  if (!(options?.key instanceof Uint8Array) || options.key.length < 32) {
    throw new TypeError("createSecretHasher: options.key must be at least 32 bytes");
  }
  const key = Buffer.from(options.key);
  return {
    hash: (secret) => createHmac("sha256", key).update(secret, "utf8").digest(),
    matches(hash, stored) {
      let found = -1;
      // Compare with every stored hash, without stopping early, so timing says nothing of which.
      for (let i = 0; i < stored.length; i++) {
        const candidate = stored[i] as Uint8Array;
        if (candidate.length === hash.length && timingSafeEqual(candidate, hash) && found < 0) found = i;
      }
      return found;
    },
    derive: (purpose) => createHmac("sha256", key).update(`m2m-auth:${purpose}`).digest(),
  };
}

/** newSecretHashKey returns a fresh random 256-bit secret-hash key (made once per store, at its initialization). */
export function newSecretHashKey(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/**
 * loadSecretHashKey returns the secret-hash key stored in the store. It never makes one: a key
 * made here while the store's was missing would part this process from every other.
 */
export async function loadSecretHashKey(state: StateStore): Promise<Uint8Array> {
  const key = await state.get(secretHashKeyStateName);
  if (key === undefined) throw new Error("the store holds no secret-hash key (it is made by the store's initialization, or configured)");
  return key;
}
