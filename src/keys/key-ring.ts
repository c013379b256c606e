import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { StateStore } from "../store/client-store.js";
import type { SigningAlgorithm } from "./algorithms.js";
import { generateSigningKey, signingKeyFromRecord, type PublicJwk, type SigningKey } from "./signing-key.js";

/** keyRingStateName is the state store entry that holds the key ring. */
export const keyRingStateName = "signing-keys";

/** JsonWebKeySet is the RFC 7517 §5 document served at the JWKS endpoint. */
export interface JsonWebKeySet {
  keys: PublicJwk[];
}

/** KeyRing holds the issuer's signing keys: the current one signs, all of them verify. */
export interface KeyRing {
  /** current is the key new tokens are signed with. */
  current(): SigningKey;
  /** jwks is the public key set, built once per ring change. */
  jwks(): JsonWebKeySet;
}

/** KeyRingOptions configures createKeyRing. */
export interface KeyRingOptions {
  state: StateStore;
  /** alg is the algorithm of the key generated when the store has none yet. */
  alg: SigningAlgorithm;
}

/**
 * createKeyRing loads the key ring from the store, or makes the first key. Two instances starting
 * at once on one Redis race with put-if-absent, and both end up with the winner's key.
 */
export async function createKeyRing(options: KeyRingOptions): Promise<KeyRing> {
  if (!options?.state) throw new TypeError("createKeyRing: options.state is required");
  let stored = await options.state.get(keyRingStateName);
  if (stored === undefined) {
    const first = await generateSigningKey(options.alg);
    const ring = create(SigningKeyRingSchema, { keys: [first.toRecord()] });
    stored = await options.state.putIfAbsent(keyRingStateName, toBinary(SigningKeyRingSchema, ring));
  }
  const records = fromBinary(SigningKeyRingSchema, stored).keys;
  if (records.length === 0) throw new Error(`the stored key ring "${keyRingStateName}" holds no key`);
  const keys = await Promise.all(records.map(signingKeyFromRecord));
  const current = keys[0] as SigningKey;
  const jwks: JsonWebKeySet = { keys: keys.map((key) => key.publicJwk) };
  return {
    current: () => current,
    jwks: () => jwks,
  };
}
