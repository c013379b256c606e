import type { Logger } from "pino";
import { UnavailableError } from "../errors.js";
import type { Readiness } from "../readiness.js";
import type { StateStore } from "../store/client-store.js";
import type { OpenedState } from "./open-state.js";
import { encodeCandidate, restoreCandidatesStateName } from "./restore-candidate.js";
import { storeInitCommand } from "./store-state-error.js";
import { labels, missingParts, readStateParts, sameBytes, type StateParts } from "./state-values.js";

// Every instance re-reads the marker, secret-hash key, key ring and admin on the key ring's
// reload interval (one MGET). While any is missing or is not what this process holds, it is not
// ready and refuses to issue tokens, manage clients or rotate keys: serving from its own copy
// would accept credentials another instance refuses. It offers its copy for a restore, and
// serves again by itself once the store holds the same state (after a restore).

/** stateReadinessName is the readiness condition the watch sets. */
export const stateReadinessName = "state";

/** StateWatch guards the issuer's state this process holds. */
export interface StateWatch {
  /** assertIntact throws UnavailableError while the store does not hold this process's state. */
  assertIntact(): void;
  /** check compares the store with the held state now (the timer calls it every interval). */
  check(): Promise<void>;
  /** close stops the timer and waits for a running check. */
  close(): Promise<void>;
}

/** StateWatchOptions configure createStateWatch. */
export interface StateWatchOptions {
  state: StateStore;
  held: OpenedState;
  /** ring returns the stored key ring this process holds now (offered for a restore). */
  ring: () => Uint8Array;
  intervalMs: number;
  readiness: Readiness;
  logger: Pick<Logger, "info" | "warn" | "error">;
  /** instanceId names this process's offer. */
  instanceId: string;
  /** encryptionKey (M2M_KEY_ENCRYPTION_KEY) seals the offer. */
  encryptionKey: Uint8Array | undefined;
  /** onAdmin hears the stored admin's new bytes when it changed in the store (disabled, or reset). */
  onAdmin: (stored: Uint8Array) => void;
}

interface Problem {
  reason: string;
  /** offer: this process's copy can restore it (something is missing, not replaced). */
  offer: boolean;
}

/** createStateWatch starts the watch; its timer is unref'd. */
export function createStateWatch(options: StateWatchOptions): StateWatch {
  const { state, held, readiness, logger } = options;
  const source = held.info.secretHashKey;
  let admin = held.admin;
  let problem: string | undefined;
  let offered = false;

  function diagnose(values: StateParts): Problem | undefined {
    const missing = missingParts(values, source);
    if (missing.length > 0) {
      return { reason: `missing from the store: ${labels(missing)}; restore it with \`${storeInitCommand} --restore\``, offer: true };
    }
    if (!sameBytes(values.marker, held.marker)) return { reason: "the store was initialized again (another store marker): restart this process", offer: false };
    if (source === "stored" && !sameBytes(values.hashKey, held.hashKey))
      return { reason: "the secret-hash key in the store was replaced: restart this process", offer: false };
    return undefined;
  }

  async function offer(): Promise<void> {
    const parts: StateParts = { marker: held.marker, ring: options.ring(), admin, ...(source === "stored" ? { hashKey: held.hashKey } : {}) };
    const candidate = { instance: options.instanceId, offerTime: new Date().toISOString(), parts };
    await state.putField(restoreCandidatesStateName, options.instanceId, encodeCandidate(candidate, options.encryptionKey));
    logger.warn({ instance: options.instanceId }, `offered this instance's copy of the issuer's state for \`${storeInitCommand} --restore\``);
  }

  async function check(): Promise<void> {
    let values: StateParts;
    try {
      values = await readStateParts(state);
    } catch {
      return; // the store is unreachable: /readyz reports that by itself, and nothing was learnt
    }
    const found = diagnose(values);
    if (found !== undefined) {
      if (found.reason !== problem) {
        problem = found.reason;
        readiness.set(stateReadinessName, problem);
        logger.error(
          { generation: held.info.generation },
          `the issuer's state in the store is not this process's: ${problem}; refusing tokens, client management and key rotation`,
        );
      }
      if (found.offer && !offered)
        offered = await offer().then(
          () => true,
          () => false,
        );
      return;
    }
    if (problem !== undefined) {
      logger.info({ generation: held.info.generation }, "the issuer's state in the store matches this process again: serving");
      problem = undefined;
      offered = false;
      readiness.set(stateReadinessName, undefined);
    }
    if (!sameBytes(values.admin, admin)) {
      admin = values.admin as Uint8Array;
      options.onAdmin(admin);
    }
  }

  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= check().finally(() => (running = undefined));
  }, options.intervalMs);
  timer.unref();

  return {
    assertIntact() {
      if (problem !== undefined) throw new UnavailableError(undefined, { cause: new Error(problem) });
    },
    check: async () => {
      await running;
      running = check().finally(() => (running = undefined));
      await running;
    },
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
