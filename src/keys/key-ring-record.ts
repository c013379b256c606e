import { clone, create } from "@bufbuild/protobuf";
import { SigningKeyRingSchema, SigningKeySchema, type SigningKey as SigningKeyRecord, type SigningKeyRing } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { keyRetentionMs } from "../rules.js";

// The stored key ring and its transitions, as pure functions of records: [current, next,
// previous…]. The next key is published in the JWKS (RFC 7517 §5) but does not sign, so when a
// rotation makes it current, every verifier that fetched the JWKS since the last rotation knows it.

// A demoted key stays in the JWKS for rules.keyRetentionMs: the longest expiry any client may
// have (not the longest registered now: an expiry can be raised at any time) plus the largest skew.

/**
 * maxPreviousKeys bounds the previous keys a ring keeps, so the JWKS stays small. A rotation that
 * would go past it waits until the oldest retires (see rotation-guard.ts); a forced one drops the
 * oldest, and tokens it signed stop verifying.
 */
export const maxPreviousKeys = 10;

/** KeyStatus is a key's place in the ring. */
export type KeyStatus = "current" | "next" | "previous";

/** statusAt returns the status of the key at `index` of a ring. */
export function statusAt(ring: SigningKeyRing, index: number): KeyStatus {
  if (index === 0) return "current";
  return index === 1 && ring.keys[1]?.activateTimeMs === 0n ? "next" : "previous";
}

/** isRetired reports whether a previous key's retire time has come. */
export function isRetired(record: SigningKeyRecord, now: number): boolean {
  return record.retireTimeMs > 0n && Number(record.retireTimeMs) <= now;
}

function activated(record: SigningKeyRecord, at: bigint): SigningKeyRecord {
  const copy = clone(SigningKeySchema, record);
  copy.activateTimeMs = at;
  copy.deactivateTimeMs = 0n;
  copy.retireTimeMs = 0n;
  return copy;
}

function demoted(record: SigningKeyRecord, now: number): SigningKeyRecord {
  const copy = clone(SigningKeySchema, record);
  copy.deactivateTimeMs = BigInt(now);
  copy.retireTimeMs = BigInt(now + keyRetentionMs);
  return copy;
}

// A next key is published by the ring write that adds it: `now` is that write's time.
function asNext(record: SigningKeyRecord, now: number): SigningKeyRecord {
  const copy = activated(record, 0n);
  copy.publishTimeMs = BigInt(now);
  return copy;
}

/** publishTime is when a key entered the JWKS (rings from before publish_time_ms: its create time). */
export function publishTime(record: SigningKeyRecord): number {
  return Number(record.publishTimeMs > 0n ? record.publishTimeMs : record.createTimeMs);
}

/** firstRing is the ring of a new store: `current`, active from `now`, and `next`. */
export function firstRing(current: SigningKeyRecord, next: SigningKeyRecord, now: number): SigningKeyRing {
  return create(SigningKeyRingSchema, { keys: [activated(current, BigInt(now)), asNext(next, now)], version: 1n });
}

/** NormalizeOptions says what a ring must be like under the running configuration. */
export interface NormalizeOptions {
  /** alg is the configured M2M_SIGNING_ALG: the next key's algorithm. */
  alg: string;
  now: number;
  /** newNext makes a next key of `alg`, sealed when keys are encrypted. */
  newNext: () => Promise<SigningKeyRecord>;
  /** seal encrypts a clear key; undefined when keys are stored in clear. */
  seal?: ((record: SigningKeyRecord) => SigningKeyRecord) | undefined;
}

/** RingChange is a rewritten ring and what was changed, for the log. */
export interface RingChange {
  ring: SigningKeyRing;
  changes: string[];
}

/**
 * normalizeRing brings a stored ring in line with the configuration, or returns undefined when it
 * is: a one-key ring from before rotation gets a next key (its key stays current); a next key of
 * another alg is replaced (safe: it never signed; the next rotation switches `alg`); clear keys
 * are encrypted when a key encryption key is set. The current key is never changed.
 */
export async function normalizeRing(stored: SigningKeyRing, options: NormalizeOptions): Promise<RingChange | undefined> {
  const { now } = options;
  const changes: string[] = [];
  const [head, ...rest] = stored.keys;
  if (head === undefined) throw new Error("the stored signing key ring holds no key");
  let current = head;
  let next = statusAt(stored, 1) === "next" ? rest.shift() : undefined;
  let previous = rest;
  if (current.activateTimeMs === 0n) {
    // A ring written before rotation existed: its first key signs; anything else is previous.
    current = activated(current, current.createTimeMs > 0n ? current.createTimeMs : BigInt(now));
    if (next !== undefined) previous = [next, ...previous];
    next = undefined;
    previous = previous.map((record) => (record.retireTimeMs === 0n ? demoted(record, now) : record));
    changes.push("made the stored one-key ring current + next");
  }
  if (next === undefined) {
    next = asNext(await options.newNext(), now);
    changes.push(`added a next key (${next.alg})`);
  } else if (next.alg !== options.alg) {
    const replaced = next.alg;
    next = asNext(await options.newNext(), now);
    changes.push(`replaced the next key ${replaced} → ${next.alg}; the next rotation signs with ${next.alg}`);
  }
  let keys = [current, next, ...previous];
  if (options.seal !== undefined && keys.some((record) => record.privateKeyNonce.length === 0)) {
    keys = keys.map(options.seal);
    changes.push("encrypted the stored private keys");
  }
  if (changes.length === 0) return undefined;
  return { ring: create(SigningKeyRingSchema, { keys: pruned(keys, now), version: stored.version + 1n }), changes };
}

function pruned(keys: SigningKeyRecord[], now: number): SigningKeyRecord[] {
  return keys.filter((record, index) => index < 2 || !isRetired(record, now));
}

/**
 * rotateRing makes the next key current (activate time `now`), demotes the current key to
 * previous (retire time `now` + rules.keyRetentionMs), adds `newNext`, drops retired keys, and
 * keeps at most maxPreviousKeys previous keys, the newest (previous keys are kept newest first).
 */
export function rotateRing(stored: SigningKeyRing, newNext: SigningKeyRecord, now: number): SigningKeyRing {
  const [current, next, ...previous] = stored.keys;
  if (current === undefined || next === undefined || statusAt(stored, 1) !== "next") {
    throw new Error("the stored signing key ring has no next key");
  }
  const keys = [activated(next, BigInt(now)), asNext(newNext, now), demoted(current, now), ...previous];
  return create(SigningKeyRingSchema, { keys: pruned(keys, now).slice(0, 2 + maxPreviousKeys), version: stored.version + 1n });
}
