import { toBinary } from "@bufbuild/protobuf";
import { SigningKeyRingSchema, type SigningKey as SigningKeyRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { SigningAlgorithm } from "./algorithms.js";
import { sealRecord } from "./key-encryption.js";
import { firstRing } from "./key-ring-record.js";
import { generateSigningKey } from "./signing-key.js";

/** newSigningKeyRecord generates a key of `alg`, sealed when a key encryption key is given. */
export async function newSigningKeyRecord(alg: SigningAlgorithm, encryptionKey: Uint8Array | undefined, nowMs: number): Promise<SigningKeyRecord> {
  const record = (await generateSigningKey(alg, nowMs)).toRecord();
  return encryptionKey === undefined ? record : sealRecord(record, encryptionKey);
}

/** newKeyRingBytes returns the stored form of a new store's ring: a current and a next key of `alg`. */
export async function newKeyRingBytes(alg: SigningAlgorithm, encryptionKey: Uint8Array | undefined, nowMs: number): Promise<Uint8Array> {
  const [current, next] = await Promise.all([newSigningKeyRecord(alg, encryptionKey, nowMs), newSigningKeyRecord(alg, encryptionKey, nowMs)]);
  return toBinary(SigningKeyRingSchema, firstRing(current, next, nowMs));
}
