/**
 * Readiness says whether this process should receive new traffic (`/readyz`). Each part of the
 * service owns a named condition and sets a reason while it is not fit, clears it when it is:
 * the store unreachable, the issuer state gone from the store, the process draining.
 */
export interface Readiness {
  /** set records why `name` makes the process not ready, or clears it with undefined. */
  set(name: string, reason: string | undefined): void;
  /** ready is true while no condition has a reason. */
  ready(): boolean;
  /** reasons lists the current reasons, as `name: reason`, for the operator. */
  reasons(): string[];
  /** onChange calls `listener` after every change of ready(); returns a function that removes it. */
  onChange(listener: (ready: boolean) => void): () => void;
}

/** createReadiness returns a Readiness with no condition set: ready. */
export function createReadiness(): Readiness {
  const reasons = new Map<string, string>();
  const listeners = new Set<(ready: boolean) => void>();
  return {
    set(name, reason) {
      const before = reasons.size === 0;
      if (reason === undefined) reasons.delete(name);
      else reasons.set(name, reason);
      const after = reasons.size === 0;
      if (before !== after) for (const listener of listeners) listener(after);
    },
    ready: () => reasons.size === 0,
    reasons: () => [...reasons].map(([name, reason]) => `${name}: ${reason}`),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * notReadyReasons is the one readiness check, shared by `/readyz` and `grpc.health.v1.Health`:
 * every condition clear, and then the store answering `ping` now. It lists the reasons the process
 * is not ready (empty: ready); a failed ping is handed to `onPingError` (the caller logs it).
 */
export async function notReadyReasons(readiness: Readiness, ping: () => Promise<void>, onPingError?: (err: unknown) => void): Promise<string[]> {
  const reasons = readiness.reasons();
  if (reasons.length > 0) return reasons;
  try {
    await ping();
    return [];
  } catch (err) {
    onPingError?.(err);
    return ["store: unreachable"];
  }
}
