import { disabledAdmin, newBootstrapAdmin, type AdminCredentials } from "../clients/admin-client.js";
import { createSecretHasher, newSecretHashKey } from "../clients/secret-hasher.js";
import type { SigningAlgorithm } from "../keys/algorithms.js";
import { newKeyRingBytes } from "../keys/first-ring.js";
import { newStoreMarker, type StoreMarker } from "./store-marker.js";
import type { StateParts } from "./state-values.js";

/** InitialState is a new generation of the issuer's state, to write in one atomic step. */
export interface InitialState {
  parts: StateParts;
  /** hashKey is the key in use: the configured one, or the new one in `parts`. */
  hashKey: Uint8Array;
  /** credentials are the new bootstrap admin's, to print once; undefined when the admin is configured. */
  credentials?: AdminCredentials;
}

/** InitialStateOptions say what a new state is made of. */
export interface InitialStateOptions {
  /** configuredHashKey is M2M_SECRET_HASH_KEY; undefined: a random key, kept in the store. */
  configuredHashKey: Uint8Array | undefined;
  alg: SigningAlgorithm;
  encryptionKey: Uint8Array | undefined;
  /** adminConfigured: M2M_ADMIN_CLIENT_ID/_SECRET are set, so the stored admin starts disabled. */
  adminConfigured: boolean;
  origin: StoreMarker["origin"];
  now: number;
}

/** newInitialState makes the marker, secret-hash key (unless configured), key ring and bootstrap admin. */
export async function newInitialState(options: InitialStateOptions): Promise<InitialState> {
  const { configuredHashKey, now } = options;
  const hashKey = configuredHashKey ?? newSecretHashKey();
  const ring = await newKeyRingBytes(options.alg, options.encryptionKey, now);
  const marker = newStoreMarker(hashKey, configuredHashKey === undefined ? "stored" : "configured", options.origin, now);
  const parts: StateParts = { marker, ring, ...(configuredHashKey === undefined ? { hashKey } : {}) };
  if (options.adminConfigured) return { parts: { ...parts, admin: disabledAdmin(undefined, now) }, hashKey };
  const admin = newBootstrapAdmin(createSecretHasher({ key: hashKey }), now);
  return { parts: { ...parts, admin: admin.stored }, hashKey, credentials: admin.credentials };
}
