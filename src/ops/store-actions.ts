import { fromBinary } from "@bufbuild/protobuf";
import { ClientRecordSchema, SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { isAdminDisabled, newBootstrapAdmin, type AdminCredentials } from "../clients/admin-client.js";
import { createSecretHasher } from "../clients/secret-hasher.js";
import type { SigningAlgorithm } from "../keys/algorithms.js";
import { newInitialState } from "../state/initial-state.js";
import { chooseCandidate, decodeCandidate, identityOf, restoreCandidatesStateName, ringSummary, type RestoreCandidate } from "../state/restore-candidate.js";
import { keyFingerprint, parseStoreMarker } from "../state/store-marker.js";
import { expectParts, labels, missingParts, readStateParts, sameBytes, setParts, statePartNames, type StateParts } from "../state/state-values.js";
import type { Store } from "../store/client-store.js";

// What `npm run store:init` does to the issuer's state, each as one atomic commit over what it
// read: if anything changed in between (an instance initialized, another operator ran it), the
// commit writes nothing and the command says to run it again.

/** StoreActionOptions is what the actions work with: the store, the configuration, an output. */
export interface StoreActionOptions {
  store: Store;
  signingAlg: SigningAlgorithm;
  keyEncryptionKey: Uint8Array | undefined;
  secretHashKey: Uint8Array | undefined;
  admin: AdminCredentials | undefined;
  now: () => number;
  /** out writes a line for the operator (stdout). */
  out: (line: string) => void;
}

/** ActionResult is an exit code and, on failure, why. */
export type ActionResult = { code: 0 } | { code: 1 | 2; error: string };

const changed: ActionResult = {
  code: 1,
  error: "the store's state changed while the command ran (an instance started, or another operator): nothing was written; run it again",
};

function describeParts(values: StateParts, out: (line: string) => void): void {
  const info = values.marker === undefined ? undefined : parseStoreMarker(values.marker);
  if (info === undefined) out("store marker: MISSING");
  else
    out(
      `store marker: generation ${info.generation}, ${info.origin} ${info.createTime}, secret-hash key ${info.secretHashKey} (fingerprint ${info.fingerprint})`,
    );
  if (info?.secretHashKey === "configured") out("  secret-hash key: configured (M2M_SECRET_HASH_KEY)");
  else out(`  secret-hash key: ${values.hashKey === undefined ? "MISSING" : `present (fingerprint ${keyFingerprint(values.hashKey)})`}`);
  const ring = values.ring === undefined ? undefined : fromBinary(SigningKeyRingSchema, values.ring);
  out(`  signing key ring: ${ring === undefined ? "MISSING" : `present (version ${ring.version}, current key ${ring.keys[0]?.kid ?? "none"})`}`);
  const admin = values.admin === undefined ? undefined : fromBinary(ClientRecordSchema, values.admin);
  out(
    `  admin client: ${admin === undefined ? "MISSING" : `present (${admin.client?.clientId ?? "?"}, ${admin.secretHashes.length === 0 ? "disabled" : "enabled"})`}`,
  );
}

async function readOffers(options: StoreActionOptions): Promise<{ offers: RestoreCandidate[]; unreadable: string[] }> {
  const offers: RestoreCandidate[] = [];
  const unreadable: string[] = [];
  for (const [instance, bytes] of await options.store.state.fields(restoreCandidatesStateName)) {
    try {
      offers.push(decodeCandidate(bytes, options.keyEncryptionKey));
    } catch (err) {
      unreadable.push(`${instance}: ${(err as Error).message}`);
    }
  }
  return { offers, unreadable };
}

function describeOffers(offers: readonly RestoreCandidate[], unreadable: readonly string[], out: (line: string) => void): void {
  out(`restore offers: ${offers.length + unreadable.length}`);
  for (const offer of offers) {
    const ring = ringSummary(offer);
    out(`  instance ${offer.instance}: offered ${offer.offerTime}, state ${identityOf(offer)}, ring version ${ring.version}, current key ${ring.current}`);
  }
  for (const line of unreadable) out(`  instance ${line} (unreadable)`);
}

/** status describes the state and the offers; 0 when the state is complete and no offer waits. */
export async function status(options: StoreActionOptions): Promise<ActionResult> {
  const values = await readStateParts(options.store.state);
  describeParts(values, options.out);
  const { offers, unreadable } = await readOffers(options);
  describeOffers(offers, unreadable, options.out);
  const source = values.marker === undefined ? undefined : parseStoreMarker(values.marker).secretHashKey;
  const missing = missingParts(values, source);
  if (missing.length > 0) return { code: 1, error: `the issuer's state is incomplete: ${labels(missing)} missing` };
  return offers.length + unreadable.length > 0 ? { code: 1, error: "restore offers are waiting, though the state is complete" } : { code: 0 };
}

/** restore writes back the state the running instances offered, when they agree (or the one chosen with `from`). */
export async function restore(options: StoreActionOptions, from: string | undefined): Promise<ActionResult> {
  const values = await readStateParts(options.store.state);
  const source = values.marker === undefined ? undefined : parseStoreMarker(values.marker).secretHashKey;
  if (values.marker !== undefined && missingParts(values, source).length === 0)
    return { code: 1, error: "the issuer's state in the store is complete: there is nothing to restore" };
  const { offers, unreadable } = await readOffers(options);
  describeOffers(offers, unreadable, options.out);
  const choice = chooseCandidate(offers, from);
  if ("refusal" in choice) {
    return {
      code: 1,
      error: `${choice.refusal}; nothing was written. Instances that still run offer their copy within seconds of noticing the loss; if none holds it, start over with --reinit --yes`,
    };
  }
  const chosen = choice.chosen.parts;
  if (values.marker !== undefined && !sameBytes(values.marker, chosen.marker)) {
    return {
      code: 1,
      error: "the store holds another store marker than the offered state (it was initialized again): nothing was written; --reinit --yes starts over",
    };
  }
  const written = await options.store.state.commit({ expect: expectParts(values), set: setParts(chosen), remove: [restoreCandidatesStateName] });
  if (!written) return changed;
  const info = parseStoreMarker(chosen.marker as Uint8Array);
  options.out(
    `restored the issuer's state from instance ${choice.chosen.instance}: generation ${info.generation}, signing key ${ringSummary(choice.chosen).current}`,
  );
  options.out("running instances serve again within seconds; start the ones that refused to start");
  return { code: 0 };
}

function printCredentials(credentials: AdminCredentials, out: (line: string) => void): void {
  out("new admin credentials (shown once; keep them in a secret store):");
  out(`  client_id:     ${credentials.clientId}`);
  out(`  client_secret: ${credentials.clientSecret}`);
}

/** reinit replaces the state with a new generation: new keys, a new secret-hash key unless configured, a new admin. */
export async function reinit(options: StoreActionOptions): Promise<ActionResult> {
  const values = await readStateParts(options.store.state);
  const fresh = await newInitialState({
    configuredHashKey: options.secretHashKey,
    alg: options.signingAlg,
    encryptionKey: options.keyEncryptionKey,
    adminConfigured: options.admin !== undefined,
    origin: "reinitialized",
    now: options.now(),
  });
  // A stored key of the old generation must not linger beside a configured one.
  const remove = [restoreCandidatesStateName, ...(fresh.parts.hashKey === undefined ? [statePartNames.hashKey] : [])];
  if (!(await options.store.state.commit({ expect: expectParts(values), set: setParts(fresh.parts), remove }))) return changed;
  const info = parseStoreMarker(fresh.parts.marker as Uint8Array);
  options.out(`re-initialized the issuer's state: generation ${info.generation}, secret-hash key ${info.secretHashKey}`);
  options.out("tokens signed before no longer verify; clients made before authenticate only if the secret-hash key is configured and unchanged");
  options.out("restart every instance: those running hold the old state and refuse work until restarted");
  if (fresh.credentials !== undefined) printCredentials(fresh.credentials, options.out);
  return { code: 0 };
}

/** resetAdmin replaces the stored bootstrap admin with a new, enabled one and prints its credentials once. */
export async function resetAdmin(options: StoreActionOptions): Promise<ActionResult> {
  if (options.admin !== undefined) {
    return { code: 2, error: "M2M_ADMIN_CLIENT_ID/_SECRET are set: the bootstrap admin is used only without them; unset them here and on the instances first" };
  }
  const values = await readStateParts(options.store.state);
  const info = values.marker === undefined ? undefined : parseStoreMarker(values.marker);
  const missing = missingParts(values, info?.secretHashKey);
  if (info === undefined || missing.length > 0)
    return { code: 1, error: `the issuer's state is incomplete (${labels(missing)} missing): restore it first (--restore)` };
  const hashKey = info.secretHashKey === "stored" ? values.hashKey : options.secretHashKey;
  if (hashKey === undefined || keyFingerprint(hashKey) !== info.fingerprint) {
    return { code: 2, error: "M2M_SECRET_HASH_KEY is missing or is not this store's secret-hash key" };
  }
  const fresh = newBootstrapAdmin(createSecretHasher({ key: hashKey }), options.now());
  const expect = new Map([
    [statePartNames.marker, values.marker],
    [statePartNames.admin, values.admin],
  ]);
  if (!(await options.store.state.commit({ expect, set: new Map([[statePartNames.admin, fresh.stored]]) }))) return changed;
  options.out(
    `reset the bootstrap admin (the previous one was ${isAdminDisabled(values.admin as Uint8Array) ? "disabled" : "enabled"} and no longer works); instances without M2M_ADMIN_CLIENT_ID use the new one within seconds`,
  );
  printCredentials(fresh.credentials, options.out);
  return { code: 0 };
}
