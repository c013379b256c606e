import type { Logger } from "pino";
import { disabledAdmin, type AdminCredentials } from "../clients/admin-client.js";
import type { SigningAlgorithm } from "../keys/algorithms.js";
import type { Store } from "../store/client-store.js";
import { newInitialState } from "./initial-state.js";
import { restoreCandidatesStateName } from "./restore-candidate.js";
import { keyFingerprint, newStoreMarker, parseStoreMarker, type StoreMarker } from "./store-marker.js";
import { storeInitCommand, StoreStateError } from "./store-state-error.js";
import { expectParts, labels, missingParts, presentParts, readStateParts, sameBytes, setParts, statePartNames, type StateParts } from "./state-values.js";

// How a process finds the issuer's state at start. A marker means the prefix was initialized:
// use it, complete, or refuse. No marker and no data at all: a first start, which initializes the
// prefix in one atomic step (so `npm ci && npm start` stays all it takes). No marker but data of
// any kind: the state was lost in part (wiped, flushed, evicted) and is never made again silently;
// an operator restores it or re-initializes with `npm run store:init`. A store of an earlier
// version (its state complete, no marker yet) gets its marker written from what is there.

/** OpenedState is the state a process holds from its start on; the watch compares the store with it. */
export interface OpenedState {
  /** marker is the store marker's exact bytes. */
  marker: Uint8Array;
  info: StoreMarker;
  /** hashKey is the secret-hash key in use: the stored one, or M2M_SECRET_HASH_KEY. */
  hashKey: Uint8Array;
  /** admin is the stored bootstrap admin's bytes (disabled or not). */
  admin: Uint8Array;
  /** credentials are the bootstrap admin's, on the one start that initialized the store: print once. */
  credentials?: AdminCredentials;
}

/** OpenStateOptions configure openState. */
export interface OpenStateOptions {
  store: Store;
  /** configuredHashKey is M2M_SECRET_HASH_KEY; undefined: the key is kept in the store. */
  configuredHashKey: Uint8Array | undefined;
  alg: SigningAlgorithm;
  encryptionKey: Uint8Array | undefined;
  /** adminConfigured: M2M_ADMIN_CLIENT_ID/_SECRET are set. */
  adminConfigured: boolean;
  /** allowEvictingStore (M2M_ALLOW_EVICTING_REDIS) starts on a Redis that may evict keys, with a warning. */
  allowEvictingStore: boolean;
  now: () => number;
  logger: Pick<Logger, "info" | "warn">;
}

const fixes = `Restore it from the instances that still hold it with \`${storeInitCommand} --restore\`, or start over with \`${storeInitCommand} --reinit --yes\``;

async function checkEviction(options: OpenStateOptions): Promise<void> {
  const evicting = ((await options.store.evictionPolicies?.()) ?? []).filter((policy) => policy !== "noeviction");
  if (evicting.length === 0) return;
  const risk = `Redis's maxmemory-policy is ${evicting.join(", ")}: under memory pressure it deletes client records and the issuer's keys without a trace`;
  if (options.allowEvictingStore) {
    options.logger.warn({ maxmemoryPolicy: evicting }, `${risk}; starting anyway because M2M_ALLOW_EVICTING_REDIS is set`);
    return;
  }
  throw new StoreStateError(
    `${risk}. Set maxmemory-policy noeviction on every Redis node (and persist with appendonly yes), or set M2M_ALLOW_EVICTING_REDIS=true to start anyway`,
    { exitCode: 2 },
  );
}

function hashKeyOf(info: StoreMarker, stored: Uint8Array | undefined, configured: Uint8Array | undefined): Uint8Array {
  if (info.secretHashKey === "configured") {
    if (configured === undefined) throw new StoreStateError("this store's secret-hash key is configured: set M2M_SECRET_HASH_KEY", { exitCode: 2 });
    if (keyFingerprint(configured) !== info.fingerprint) {
      throw new StoreStateError("M2M_SECRET_HASH_KEY is not the key this store was initialized with (the store marker's fingerprint differs)", { exitCode: 2 });
    }
    return configured;
  }
  const key = stored as Uint8Array;
  if (keyFingerprint(key) !== info.fingerprint) {
    throw new StoreStateError(`the stored secret-hash key is not the one the store marker names: it was replaced. ${fixes}`);
  }
  if (configured !== undefined && !sameBytes(configured, key)) {
    throw new StoreStateError("M2M_SECRET_HASH_KEY differs from the secret-hash key kept in this store: unset it (or set it to the stored key)", {
      exitCode: 2,
    });
  }
  return key;
}

function opened(values: StateParts, configured: Uint8Array | undefined): OpenedState {
  const marker = values.marker as Uint8Array;
  const info = parseStoreMarker(marker);
  const missing = missingParts(values, info.secretHashKey);
  if (missing.length > 0) {
    throw new StoreStateError(`the issuer's state in the store is incomplete: ${labels(missing)} missing (deleted, flushed or evicted). ${fixes}`);
  }
  return { marker, info, hashKey: hashKeyOf(info, values.hashKey, configured), admin: values.admin as Uint8Array };
}

// An earlier version's complete state gets a marker; its admin may be missing only because it was
// configured then, and is then kept disabled. undefined: another process wrote first, read again.
async function migrate(values: StateParts, options: OpenStateOptions): Promise<OpenedState | undefined> {
  if (values.hashKey === undefined || values.ring === undefined) {
    const missing = missingParts(values, "stored").filter((part) => part !== "marker");
    throw new StoreStateError(
      `the store holds part of the issuer's state (${labels(presentParts(values))}) but no store marker, and misses ${labels(missing)}: it was deleted, flushed or evicted in part, and is never made again silently. ${fixes}`,
    );
  }
  if (options.configuredHashKey !== undefined && !sameBytes(options.configuredHashKey, values.hashKey)) {
    throw new StoreStateError("M2M_SECRET_HASH_KEY differs from the secret-hash key kept in this store: unset it (or set it to the stored key)", {
      exitCode: 2,
    });
  }
  const marker = newStoreMarker(values.hashKey, "stored", "migrated", options.now());
  const admin = values.admin ?? disabledAdmin(undefined, options.now());
  if (!(await options.store.state.commit({ expect: expectParts(values), set: setParts({ marker, admin }) }))) return undefined;
  options.logger.info({ generation: parseStoreMarker(marker).generation }, "wrote the store marker for the state an earlier version made");
  return opened({ ...values, marker, admin }, options.configuredHashKey);
}

async function initialize(options: OpenStateOptions): Promise<OpenedState | undefined> {
  if (!(await options.store.empty())) {
    // Another process starting at the same moment may have just initialized: read again.
    if (presentParts(await readStateParts(options.store.state)).length > 0) return undefined;
    throw new StoreStateError(
      `the store holds data under its key prefix but no issuer state (no store marker, secret-hash key, signing key ring or admin client): it was deleted or evicted, or another deployment shares the prefix; it is never made again silently. ${fixes}`,
    );
  }
  const fresh = await newInitialState({
    configuredHashKey: options.configuredHashKey,
    alg: options.alg,
    encryptionKey: options.encryptionKey,
    adminConfigured: options.adminConfigured,
    origin: "initialized",
    now: options.now(),
  });
  // Nothing may exist yet, not even an instance's restore offer: the state is written all at once or not at all.
  const expect = new Map([...expectParts({}), [restoreCandidatesStateName, undefined]]);
  if (!(await options.store.state.commit({ expect, set: setParts(fresh.parts) }))) return undefined;
  const state = opened(fresh.parts, options.configuredHashKey);
  options.logger.info({ generation: state.info.generation, secretHashKey: state.info.secretHashKey }, "initialized the store: issuer state created");
  return fresh.credentials === undefined ? state : { ...state, credentials: fresh.credentials };
}

/**
 * openState checks that Redis will not evict, then finds (or, on an empty prefix, initializes)
 * the issuer's state. It throws StoreStateError when the state is incomplete or disagrees with the
 * configuration: the process must not start and invent its own.
 */
export async function openState(options: OpenStateOptions): Promise<OpenedState> {
  await checkEviction(options);
  for (let attempt = 0; attempt < 5; attempt++) {
    const values = await readStateParts(options.store.state);
    if (values.marker !== undefined) return opened(values, options.configuredHashKey);
    const offers = await options.store.state.fields(restoreCandidatesStateName);
    if (offers.size > 0) {
      throw new StoreStateError(
        `the store lost the issuer's state while ${offers.size} instance(s) ran; they offered their copies (${statePartNames.marker} is missing). ${fixes}`,
      );
    }
    const state = presentParts(values).length > 0 ? await migrate(values, options) : await initialize(options);
    if (state !== undefined) return state;
  }
  throw new StoreStateError("the issuer's state kept changing while this process started; start it again");
}
