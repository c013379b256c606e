import { createHmac, randomUUID } from "node:crypto";
import { StoreStateError } from "./store-state-error.js";

// The store marker says "this prefix was initialized once, and this is its identity". It is
// written in the same atomic step as the state it vouches for, and every instance holds the bytes
// it started with: a marker that vanished or changed means the state this process holds is no
// longer the store's, whatever the other values look like.

/** storeMarkerStateName is the state store entry of the marker. */
export const storeMarkerStateName = "store-marker";

/** HashKeySource says where the secret-hash key lives: in the store, or in M2M_SECRET_HASH_KEY. */
export type HashKeySource = "stored" | "configured";

/** StoreMarker is the marker's content (JSON, so an operator can read it with redis-cli). */
export interface StoreMarker {
  readonly format: 1;
  /** generation is a random id per initialization: two initializations never share one. */
  readonly generation: string;
  readonly createTime: string;
  /** origin says how the marker came to be: a first start, a migration of older state, or --reinit. */
  readonly origin: "initialized" | "migrated" | "reinitialized";
  readonly secretHashKey: HashKeySource;
  /** fingerprint identifies the secret-hash key without revealing it (HMAC of a fixed label under it). */
  readonly fingerprint: string;
}

/** keyFingerprint returns a 128-bit identifier of a secret-hash key, safe to store and log. */
export function keyFingerprint(key: Uint8Array): string {
  return createHmac("sha256", key).update("m2m-auth:secret-hash-key-fingerprint").digest().subarray(0, 16).toString("hex");
}

/** newStoreMarker returns the bytes of a marker for a new generation. */
export function newStoreMarker(hashKey: Uint8Array, source: HashKeySource, origin: StoreMarker["origin"], nowMs: number): Uint8Array {
  const marker: StoreMarker = {
    format: 1,
    generation: randomUUID(),
    createTime: new Date(nowMs).toISOString(),
    origin,
    secretHashKey: source,
    fingerprint: keyFingerprint(hashKey),
  };
  return new TextEncoder().encode(JSON.stringify(marker));
}

/** parseStoreMarker reads a marker; it throws StoreStateError for bytes that are not one. */
export function parseStoreMarker(bytes: Uint8Array): StoreMarker {
  let value: Partial<StoreMarker> | undefined;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<StoreMarker>;
  } catch {
    value = undefined;
  }
  const valid =
    value?.format === 1 &&
    typeof value.generation === "string" &&
    (value.secretHashKey === "stored" || value.secretHashKey === "configured") &&
    typeof value.fingerprint === "string";
  if (!valid) throw new StoreStateError(`the store marker (${storeMarkerStateName}) is not one this version can read`);
  return value as StoreMarker;
}
