import type { Logger } from "pino";
import type { ClientStore } from "../store/client-store.js";

/** UsageRecorder notes which secret obtained a token, and writes the notes in batches. */
export interface UsageRecorder {
  /** record notes a use now; no I/O, so the token path gains no round trip. */
  record(clientId: string, secretId: string): void;
  /** flush writes what was noted since the last flush, in one round trip. */
  flush(): Promise<void>;
  /** close stops the timer and flushes what is left. */
  close(): Promise<void>;
}

/** UsageRecorderOptions configures createUsageRecorder. */
export interface UsageRecorderOptions {
  store: ClientStore;
  logger: Logger;
  /** flushIntervalMs bounds how stale a secret's last_used_time may be; default 1000. */
  flushIntervalMs?: number;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
}

// Pending uses are bounded: past this many distinct secrets, a flush is forced early.
const maxPending = 10_000;

/**
 * createUsageRecorder keeps the last use of each secret in memory and flushes them every interval.
 * A failed flush (store down) keeps the notes for the next one: last_used_time is best effort and
 * never a reason to refuse a token.
 */
export function createUsageRecorder(options: UsageRecorderOptions): UsageRecorder {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const interval = options.flushIntervalMs ?? 1000;
  if (!Number.isInteger(interval) || interval < 1) throw new TypeError("createUsageRecorder: flushIntervalMs must be a positive integer");
  let pending = new Map<string, { clientId: string; secretId: string; timeMs: number }>();
  let flushing: Promise<void> | undefined;

  async function write(): Promise<void> {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    try {
      await store.recordSecretUse([...batch.values()]);
    } catch (err) {
      // Keep what failed unless newer notes replaced it; drop the oldest past the bound.
      for (const [key, use] of batch) if (!pending.has(key) && pending.size < maxPending) pending.set(key, use);
      logger.warn({ err: err instanceof Error ? err.message : String(err), uses: batch.size }, "could not record secret use; will retry");
    }
  }

  function flush(): Promise<void> {
    flushing ??= write().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  const timer = setInterval(() => void flush(), interval);
  timer.unref();

  return {
    record(clientId, secretId) {
      pending.set(`${clientId}\u0000${secretId}`, { clientId, secretId, timeMs: now() });
      if (pending.size >= maxPending) void flush();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flushing;
      await flush();
    },
  };
}
