import type { Logger } from "pino";
import { loadAdminClient, type AdminClient } from "./clients/admin-client.js";
import { createSecretHasher, loadSecretHashKey, type SecretHasher } from "./clients/secret-hasher.js";
import type { SigningAlgorithm } from "./keys/algorithms.js";
import { createKeyRing, type KeyRing } from "./keys/key-ring.js";
import type { StateStore } from "./store/client-store.js";

/** IssuerStateOptions are the parts of the server options that the issuer's own state depends on. */
export interface IssuerStateOptions {
  state: StateStore;
  issuer: string;
  signingAlg: SigningAlgorithm;
  admin?: { clientId: string; clientSecret: string } | undefined;
  keyEncryptionKey?: Uint8Array | undefined;
  keyRotationDays?: number | undefined;
  keyReloadIntervalMs?: number | undefined;
  keyRotationCheckIntervalMs?: number | undefined;
  jwksMaxAgeSeconds?: number | undefined;
  now: () => number;
  logger: Logger;
}

/** IssuerState is what every instance over one store shares: secret-hash key, key ring, admin client. */
export interface IssuerState {
  hasher: SecretHasher;
  /** keyRing runs its reload (and rotation) timers until closed. */
  keyRing: KeyRing;
  /** admin holds new plain credentials only on the one call that bootstrapped them. */
  admin: AdminClient;
}

/**
 * loadIssuerState loads the issuer's state from the store, creating on first start what is missing
 * (create-if-absent, so instances starting at once agree). It throws KeyEncryptionError when the
 * stored signing keys cannot be opened with the configuration.
 */
export async function loadIssuerState(options: IssuerStateOptions): Promise<IssuerState> {
  const { state, now, logger } = options;
  const hasher = createSecretHasher({ key: await loadSecretHashKey(state) });
  // An M2M_SIGNING_ALG change replaces the next key; the next rotation makes it sign.
  const keyRing = await createKeyRing({
    state,
    alg: options.signingAlg,
    encryptionKey: options.keyEncryptionKey,
    rotationPeriodMs: options.keyRotationDays === undefined ? undefined : options.keyRotationDays * 86_400_000,
    ...(options.keyReloadIntervalMs ? { reloadIntervalMs: options.keyReloadIntervalMs } : {}),
    ...(options.keyRotationCheckIntervalMs ? { rotationCheckIntervalMs: options.keyRotationCheckIntervalMs } : {}),
    ...(options.jwksMaxAgeSeconds !== undefined ? { jwksMaxAgeSeconds: options.jwksMaxAgeSeconds } : {}),
    now,
    logger,
  });
  try {
    const admin = await loadAdminClient({ state, hasher, issuer: options.issuer, configured: options.admin, now });
    return { hasher, keyRing, admin };
  } catch (err) {
    await keyRing.close();
    throw err;
  }
}
