import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ClientRecord } from "../gen/m2mauth/internal/v1/records_pb.js";
import { adminClientStateName, chooseAdmin, storedAdminId, type AdminCredentials } from "./clients/admin-client.js";
import { createSecretHasher, type SecretHasher } from "./clients/secret-hasher.js";
import type { SigningAlgorithm } from "./keys/algorithms.js";
import { createKeyRing, type KeyRing, type KeyRingOptions } from "./keys/key-ring.js";
import { createReadiness, type Readiness } from "./readiness.js";
import { openState } from "./state/open-state.js";
import { createStateWatch, type StateWatch } from "./state/state-watch.js";
import { storeInitCommand } from "./state/store-state-error.js";
import type { Store } from "./store/client-store.js";

/** IssuerStateOptions are the parts of the server options that the issuer's own state depends on. */
export interface IssuerStateOptions {
  store: Store;
  issuer: string;
  signingAlg: SigningAlgorithm;
  admin?: AdminCredentials | undefined;
  keyEncryptionKey?: Uint8Array | undefined;
  /** secretHashKey (M2M_SECRET_HASH_KEY) is the secret-hash key; undefined: the one kept in the store. */
  secretHashKey?: Uint8Array | undefined;
  /** allowEvictingStore (M2M_ALLOW_EVICTING_REDIS) starts on a Redis whose maxmemory-policy evicts. */
  allowEvictingStore?: boolean | undefined;
  keyRotationDays?: number | undefined;
  /** keyReloadIntervalMs is how often the ring is re-read and the state checked; default 2000. */
  keyReloadIntervalMs?: number | undefined;
  keyRotationCheckIntervalMs?: number | undefined;
  jwksMaxAgeSeconds?: number | undefined;
  /** onScheduledRotation is told of each automatic rotation this instance made (the server audits it). */
  onScheduledRotation?: KeyRingOptions["onScheduledRotation"];
  /** readiness gets the "state" condition while the store does not hold this process's state. */
  readiness?: Readiness | undefined;
  now: () => number;
  logger: Logger;
}

/** IssuerState is what every instance over one store shares: secret-hash key, key ring, admin client. */
export interface IssuerState {
  hasher: SecretHasher;
  /** keyRing runs its reload (and rotation) timers until closed. */
  keyRing: KeyRing;
  /** systemClients are the admin clients that authenticate now (client id → record), kept current by the watch. */
  systemClients: ReadonlyMap<string, ClientRecord>;
  /** adminCredentials are set on the one start that bootstrapped the admin: show them once. */
  adminCredentials: AdminCredentials | undefined;
  /** watch refuses work while the store does not hold this process's state. */
  watch: StateWatch;
  /** close stops the watch and the key ring's timers. */
  close(): Promise<void>;
}

const noAdminWarning = `no admin client: the stored bootstrap admin was disabled when M2M_ADMIN_CLIENT_ID/_SECRET were set; set them again, or make a new one with \`${storeInitCommand} --reset-admin\``;

/**
 * loadIssuerState opens the issuer's state (initializing an empty store; see state/open-state.ts),
 * loads the key ring and the admin, and starts the watch. It throws StoreStateError when the state
 * cannot be used as it is, and KeyEncryptionError when the signing keys cannot be opened.
 */
export async function loadIssuerState(options: IssuerStateOptions): Promise<IssuerState> {
  const { store, now, logger, issuer } = options;
  const configured = options.admin;
  const opened = await openState({
    store,
    configuredHashKey: options.secretHashKey,
    alg: options.signingAlg,
    encryptionKey: options.keyEncryptionKey,
    adminConfigured: configured !== undefined,
    allowEvictingStore: options.allowEvictingStore ?? false,
    now,
    logger,
  });
  const hasher = createSecretHasher({ key: opened.hashKey });
  const reloadIntervalMs = options.keyReloadIntervalMs ?? 2000;
  let watch: StateWatch | undefined;
  // An M2M_SIGNING_ALG change replaces the next key; the next rotation makes it sign.
  const keyRing = await createKeyRing({
    state: store.state,
    alg: options.signingAlg,
    encryptionKey: options.keyEncryptionKey,
    rotationPeriodMs: options.keyRotationDays === undefined ? undefined : options.keyRotationDays * 86_400_000,
    reloadIntervalMs,
    ...(options.keyRotationCheckIntervalMs !== undefined ? { rotationCheckIntervalMs: options.keyRotationCheckIntervalMs } : {}),
    ...(options.jwksMaxAgeSeconds !== undefined ? { jwksMaxAgeSeconds: options.jwksMaxAgeSeconds } : {}),
    createIfAbsent: false,
    assertUsable: () => watch?.assertIntact(),
    onScheduledRotation: options.onScheduledRotation,
    now,
    logger,
  });
  try {
    const systemClients = new Map<string, ClientRecord>();
    const useAdmin = (stored: Uint8Array) => {
      const choice = chooseAdmin({ stored, configured, hasher, issuer, now: now() });
      systemClients.clear();
      if (choice.record?.client) systemClients.set(choice.record.client.clientId, choice.record);
      return choice;
    };
    let admin = opened.admin;
    const choice = useAdmin(admin);
    if (choice.disable !== undefined) {
      // Configured credentials take the stored admin's place for good: it is disabled, not just unused.
      if (await store.state.compareAndSet(adminClientStateName, admin, choice.disable)) {
        // warn: credentials someone may still hold stop working here, which the operator should see.
        const clientId = storedAdminId(admin);
        admin = choice.disable;
        logger.warn(
          { clientId },
          `disabled the stored bootstrap admin ${clientId}: M2M_ADMIN_CLIENT_ID/_SECRET are set, and it stays disabled when they are removed (${storeInitCommand} --reset-admin makes a new one)`,
        );
      } else {
        admin = (await store.state.get(adminClientStateName)) ?? admin;
      }
    }
    if (choice.record === undefined) logger.warn(noAdminWarning);
    watch = createStateWatch({
      state: store.state,
      held: { ...opened, admin },
      ring: () => keyRing.stored(),
      intervalMs: reloadIntervalMs,
      readiness: options.readiness ?? createReadiness(),
      logger,
      instanceId: randomUUID(),
      encryptionKey: options.keyEncryptionKey,
      onAdmin: (stored) => {
        if (configured !== undefined) return;
        const changed = useAdmin(stored);
        if (changed.record === undefined) logger.warn(noAdminWarning);
        else logger.info({ clientId: changed.record.client?.clientId }, "the bootstrap admin changed in the store: using the new one");
      },
    });
    const started = watch;
    return {
      hasher,
      keyRing,
      systemClients,
      adminCredentials: opened.credentials,
      watch: started,
      async close() {
        await started.close();
        await keyRing.close();
      },
    };
  } catch (err) {
    await keyRing.close();
    throw err;
  }
}
