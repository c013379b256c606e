import { randomUUID } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { SigningKeyRingSchema, type SigningKey as SigningKeyRecord, type SigningKeyRing } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { FailedPreconditionError, UnavailableError } from "../errors.js";
import type { StateStore } from "../store/client-store.js";
import { signingAlgorithms, type SigningAlgorithm } from "./algorithms.js";
import { newKeyRingBytes } from "./first-ring.js";
import { checkKeyEncryptionKey, sealRecord } from "./key-encryption.js";
import { normalizeRing, rotateRing } from "./key-ring-record.js";
import { createKeyImporter, type JsonWebKeySet, type KeyInfo, type RingView } from "./key-ring-view.js";
import { startKeyRingTimers } from "./key-ring-timers.js";
import { defaultJwksMaxAgeSeconds, rotationWait } from "./rotation-guard.js";
import { generateSigningKey, type SigningKey } from "./signing-key.js";

export type { JsonWebKeySet, KeyInfo } from "./key-ring-view.js";
export type { KeyStatus } from "./key-ring-record.js";

/** keyRingStateName is the state store entry that holds the key ring. */
export const keyRingStateName = "signing-keys";

/** keyRotationLockName is the state store lock one instance holds while rotating automatically. */
export const keyRotationLockName = "key-rotation";

/** KeyRing holds the issuer's signing keys: the current one signs, every published one verifies. */
export interface KeyRing {
  /** current is the key new tokens are signed with: pre-built, no work per call. */
  current(): SigningKey;
  /** jwks is the public key set (RFC 7517 §5): current, next and unretired previous keys. */
  jwks(): JsonWebKeySet;
  /** list describes the published keys, the current one first. */
  list(): readonly KeyInfo[];
  /**
   * rotate makes the next key current and returns it. If another instance rotated since this one
   * last read the ring, it adopts that rotation instead of rotating again. Unless `force`, it
   * throws FailedPreconditionError, naming the time left, while the rotation would break verifiers
   * (see rotation-guard.ts); forced, it rotates anyway and logs a warning.
   */
  rotate(options?: { force?: boolean }): Promise<KeyInfo>;
  /**
   * rotateIfDue rotates, under a store lock, when the current key is older than the rotation
   * period and a rotation breaks no verifier (it waits for that, never forces).
   */
  rotateIfDue(): Promise<boolean>;
  /** jwksMaxAgeSeconds is the JWKS `Cache-Control` max-age, which rotations wait for. */
  readonly jwksMaxAgeSeconds: number;
  /** reload re-reads the ring from the store; it rebuilds only when the stored ring changed. */
  reload(): Promise<void>;
  /** stored returns the stored ring this instance holds (what a restore would write back). */
  stored(): Uint8Array;
  /** close stops the reload and rotation timers and waits for a running reload or rotation. */
  close(): Promise<void>;
}

/** KeyRingOptions configures createKeyRing. */
export interface KeyRingOptions {
  state: StateStore;
  /** alg is M2M_SIGNING_ALG: the algorithm of new keys (a change signs at the next rotation). */
  alg: SigningAlgorithm;
  /** encryptionKey (32 bytes) encrypts private keys at rest with AES-256-GCM; undefined: clear. */
  encryptionKey?: Uint8Array | undefined;
  /** rotationPeriodMs rotates automatically once the current key is this old; undefined: never. */
  rotationPeriodMs?: number | undefined;
  /** reloadIntervalMs is how often the ring is re-read to pick up other instances' rotations; default 2000. */
  reloadIntervalMs?: number;
  /** rotationCheckIntervalMs is how often the rotation period is checked; default 60_000. */
  rotationCheckIntervalMs?: number;
  /**
   * jwksMaxAgeSeconds (M2M_JWKS_MAX_AGE_SECONDS) is how long verifiers may cache the JWKS: a
   * rotation waits until the next key has been published this long, plus the reload interval;
   * default 300.
   */
  jwksMaxAgeSeconds?: number;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
  logger?: Pick<Logger, "info" | "warn"> | undefined;
  /**
   * createIfAbsent makes a first ring at start when the store has none; default true, for a ring
   * used on its own. The service passes false: its ring is made once, with the store's
   * initialization, and a ring missing from the store is never made again behind its back.
   */
  createIfAbsent?: boolean;
  /** assertUsable throws (UnavailableError) when this instance must not rotate: its state is not the store's. */
  assertUsable?: (() => void) | undefined;
  /**
   * onScheduledRotation is told of each automatic rotation (rotationPeriodMs) this instance made,
   * with the new current key; not of one it adopted from another instance (the server audits it).
   */
  onScheduledRotation?: ((key: KeyInfo) => void) | undefined;
}

function positive(option: string, value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new TypeError(`createKeyRing: options.${option} must be a positive number`);
  return value;
}

const decode = (bytes: Uint8Array): SigningKeyRing => fromBinary(SigningKeyRingSchema, bytes);

/**
 * createKeyRing loads the key ring from the store, making or migrating it as the configuration
 * asks. Every write is a compare-and-set of the stored bytes, so instances starting or rotating at
 * once agree on one ring. It throws KeyEncryptionError when the stored keys cannot be opened.
 */
export async function createKeyRing(options: KeyRingOptions): Promise<KeyRing> {
  if (!options?.state) throw new TypeError("createKeyRing: options.state is required");
  if (!signingAlgorithms.includes(options.alg)) throw new TypeError(`createKeyRing: options.alg must be one of ${signingAlgorithms.join(", ")}`);
  const { state, alg, logger } = options;
  const encryptionKey = checkKeyEncryptionKey("createKeyRing: options.encryptionKey", options.encryptionKey);
  const rotationPeriodMs = positive("rotationPeriodMs", options.rotationPeriodMs, undefined);
  const reloadIntervalMs = positive("reloadIntervalMs", options.reloadIntervalMs, 2000) as number;
  const rotationCheckIntervalMs = positive("rotationCheckIntervalMs", options.rotationCheckIntervalMs, 60_000) as number;
  const jwksMaxAgeSeconds = options.jwksMaxAgeSeconds ?? defaultJwksMaxAgeSeconds;
  if (!Number.isSafeInteger(jwksMaxAgeSeconds) || jwksMaxAgeSeconds < 0)
    throw new TypeError("createKeyRing: options.jwksMaxAgeSeconds must be a whole number of seconds");
  // Another instance serves a ring written elsewhere only after its next reload.
  const publishWindowMs = jwksMaxAgeSeconds * 1000 + reloadIntervalMs;
  const now = options.now ?? Date.now;
  const importer = createKeyImporter(encryptionKey);
  const instanceId = randomUUID();
  const seal = encryptionKey === undefined ? undefined : (record: SigningKeyRecord) => sealRecord(record, encryptionKey);
  const newRecord = async () => {
    const record = (await generateSigningKey(alg, now())).toRecord();
    return seal === undefined ? record : seal(record);
  };
  if (encryptionKey === undefined) logger?.warn("M2M_KEY_ENCRYPTION_KEY is not set: private signing keys are stored unencrypted");

  // A rotation never makes a ring: one gone from the store (wiped, evicted) must be restored, or
  // the tokens its keys signed would stop verifying.
  async function read(create: boolean): Promise<Uint8Array> {
    const stored = await state.get(keyRingStateName);
    if (stored !== undefined) return stored;
    if (!create) throw new UnavailableError(undefined, { cause: new Error("the signing key ring is missing from the store") });
    return state.putIfAbsent(keyRingStateName, await newKeyRingBytes(alg, encryptionKey, now()));
  }

  // Start: read (or create), open every key, then bring the ring in line with the configuration.
  async function start(): Promise<RingView> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const bytes = await read(options.createIfAbsent ?? true);
      const ring = decode(bytes);
      const loaded = await importer.view(bytes, ring);
      const change = await normalizeRing(ring, { alg, now: now(), newNext: newRecord, seal });
      if (change === undefined) return loaded;
      const written = toBinary(SigningKeyRingSchema, change.ring);
      if (await state.compareAndSet(keyRingStateName, bytes, written)) {
        logger?.info({ changes: change.changes, current: loaded.current.kid }, "signing key ring updated");
        return importer.view(written, change.ring);
      }
    }
    throw new Error("the signing key ring kept changing while it was loaded");
  }

  let view = await start();
  if (view.current.alg !== alg) {
    logger?.info({ configured: alg, current: view.current.alg }, "M2M_SIGNING_ALG differs from the current signing key: the next rotation switches to it");
  }

  // Reloads and rotations run one at a time, so an older read never replaces a newer ring.
  let queue: Promise<unknown> = Promise.resolve();
  function serial<T>(task: () => Promise<T>): Promise<T> {
    const result = queue.then(task);
    queue = result.catch(() => undefined);
    return result;
  }

  async function apply(bytes: Uint8Array, ring?: SigningKeyRing): Promise<void> {
    if (Buffer.from(bytes).equals(view.bytes)) return;
    view = await importer.view(bytes, ring ?? decode(bytes));
  }

  async function reloadNow(): Promise<void> {
    const bytes = await state.get(keyRingStateName);
    if (bytes !== undefined) await apply(bytes);
  }

  // The key now current, and whether this call made it so (false: another instance's rotation was adopted).
  async function rotateNow(force: boolean): Promise<{ key: KeyInfo; rotated: boolean }> {
    options.assertUsable?.();
    const expectedKid = view.current.kid;
    for (let attempt = 0; attempt < 10; attempt++) {
      const bytes = await read(false);
      const ring = decode(bytes);
      if (ring.keys[0]?.kid !== expectedKid) {
        // Someone else rotated since this instance last looked: that rotation is the one asked for.
        await apply(bytes, ring);
        return { key: view.currentInfo, rotated: false };
      }
      const wait = rotationWait(ring, now(), publishWindowMs);
      if (wait !== undefined && !force) {
        throw new FailedPreconditionError(`${wait.reason}; or set force, which breaks verification of new tokens until verifiers refetch the JWKS`);
      }
      const rotated = rotateRing(ring, await newRecord(), now());
      const written = toBinary(SigningKeyRingSchema, rotated);
      if (await state.compareAndSet(keyRingStateName, bytes, written)) {
        await apply(written, rotated);
        logger?.info({ current: view.current.kid, alg: view.current.alg, previous: expectedKid }, "signing key rotated");
        if (wait !== undefined)
          logger?.warn({ reason: wait.reason }, "forced signing key rotation: verifiers may reject new tokens until they refetch the JWKS");
        return { key: view.currentInfo, rotated: true };
      }
    }
    throw new Error("the signing key ring kept changing during a rotation");
  }

  // Due, and breaking no verifier: an automatic rotation waits rather than forcing.
  const isDue = (): boolean =>
    rotationPeriodMs !== undefined &&
    now() - (view.currentInfo.activateTime ?? view.currentInfo.createTime) >= rotationPeriodMs &&
    rotationWait(decode(view.bytes), now(), publishWindowMs) === undefined;

  async function rotateIfDueNow(): Promise<boolean> {
    if (!isDue()) return false;
    options.assertUsable?.();
    // One instance rotates: the lock keeps the others out, the re-read shows them its rotation.
    if (!(await state.acquireLock(keyRotationLockName, instanceId, 60_000))) return false;
    try {
      await reloadNow();
      if (!isDue()) return false;
      const { key, rotated } = await rotateNow(false);
      if (rotated) options.onScheduledRotation?.(key);
      return rotated;
    } finally {
      await state.releaseLock(keyRotationLockName, instanceId);
    }
  }

  const ring: KeyRing = {
    current: () => view.current,
    jwks: () => view.published(now()).jwks,
    list: () => view.published(now()).keys,
    rotate: (rotation) => serial(async () => (await rotateNow(rotation?.force === true)).key),
    rotateIfDue: () => serial(rotateIfDueNow),
    reload: () => serial(reloadNow),
    jwksMaxAgeSeconds,
    stored: () => view.bytes,
    close: async () => {
      timers.stop();
      await queue;
    },
  };
  const timers = startKeyRingTimers({
    reload: () => ring.reload(),
    reloadIntervalMs,
    rotateIfDue: rotationPeriodMs === undefined ? undefined : () => ring.rotateIfDue(),
    rotationCheckIntervalMs,
    onError: (err, task) => logger?.warn({ err, task }, "signing key ring task failed"),
  });
  return ring;
}
