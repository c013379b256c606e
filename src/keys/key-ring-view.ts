import type { SigningKeyRing } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { SigningAlgorithm } from "./algorithms.js";
import { openPrivateKey } from "./key-encryption.js";
import { isRetired, statusAt, type KeyStatus } from "./key-ring-record.js";
import { signingKeyFromRecord, type PublicJwk, type SigningKey } from "./signing-key.js";

/** JsonWebKeySet is the RFC 7517 §5 document served at the JWKS endpoint. */
export interface JsonWebKeySet {
  keys: PublicJwk[];
}

/** KeyInfo describes one key of the ring; times in ms, undefined where the key has none yet. */
export interface KeyInfo {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly status: KeyStatus;
  readonly createTime: number;
  readonly activateTime: number | undefined;
  readonly deactivateTime: number | undefined;
  readonly retireTime: number | undefined;
}

/** RingView is a loaded ring: its stored bytes, imported keys, and what is published at a time. */
export interface RingView {
  /** bytes are the stored value the view was built from; a reload compares them. */
  readonly bytes: Uint8Array;
  readonly current: SigningKey;
  readonly currentInfo: KeyInfo;
  /** published returns the keys not retired at `now` and their JWKS, rebuilt only when one retires. */
  published(now: number): { readonly keys: readonly KeyInfo[]; readonly jwks: JsonWebKeySet };
}

/** KeyImporter builds views, importing each private key once (keys are cached by kid). */
export interface KeyImporter {
  view(bytes: Uint8Array, ring: SigningKeyRing): Promise<RingView>;
}

const optionalTime = (ms: bigint): number | undefined => (ms === 0n ? undefined : Number(ms));

/**
 * createKeyImporter returns an importer that opens private keys with `encryptionKey` (throwing
 * KeyEncryptionError when it cannot) and keeps the imported keys of the last view built.
 */
export function createKeyImporter(encryptionKey: Uint8Array | undefined): KeyImporter {
  let imported = new Map<string, SigningKey>();
  return {
    async view(bytes, ring) {
      // A kid is the RFC 7638 thumbprint of the key, so one kid is one key on every instance.
      const keys = await Promise.all(
        ring.keys.map((record) => imported.get(record.kid) ?? signingKeyFromRecord(record, openPrivateKey(record, encryptionKey))),
      );
      imported = new Map(keys.map((key) => [key.kid, key]));
      const infos: KeyInfo[] = ring.keys.map((record, index) => ({
        kid: record.kid,
        alg: (keys[index] as SigningKey).alg,
        status: statusAt(ring, index),
        createTime: Number(record.createTimeMs),
        activateTime: optionalTime(record.activateTimeMs),
        deactivateTime: optionalTime(record.deactivateTimeMs),
        retireTime: optionalTime(record.retireTimeMs),
      }));
      let cached: { until: number; keys: KeyInfo[]; jwks: JsonWebKeySet } | undefined;
      return {
        bytes,
        current: keys[0] as SigningKey,
        currentInfo: infos[0] as KeyInfo,
        published(now) {
          if (cached === undefined || now >= cached.until) {
            // Retired keys leave the JWKS by time, even before the ring is next written.
            const live = ring.keys.flatMap((record, index) => (isRetired(record, now) ? [] : [index]));
            const retireTimes = live.map((i) => Number(ring.keys[i]?.retireTimeMs ?? 0n)).filter((ms) => ms > 0);
            cached = {
              until: Math.min(Infinity, ...retireTimes),
              keys: live.map((i) => infos[i] as KeyInfo),
              jwks: { keys: live.map((i) => (keys[i] as SigningKey).publicJwk) },
            };
          }
          return cached;
        },
      };
    },
  };
}
