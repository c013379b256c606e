// Failed client authentications, counted over a sliding window and shared by every instance and
// worker: the store half of tokens/auth-throttle.ts. Only failures are ever written, so the
// success path never pays a round trip for it.

/** CountedName is one thing failures are counted for (`client:<id>`, `address:<ip>`) and its limit. */
export interface CountedName {
  /** name is what is counted; the store keeps only its digest, so any string makes a short key. */
  name: string;
  /** limit is the failures that block it; the store keeps at most this many entries for it. */
  limit: number;
}

/** FailureCount is what one name's window holds after a failure was added. */
export interface FailureCount {
  /** count is the failures in the window, this one included (at most the name's limit). */
  count: number;
  /** oldestMs is when the oldest failure kept was added: once count reached the limit, the block ends at oldestMs + window. */
  oldestMs: number;
}

/** FailureLimiter counts failures per name over a sliding window. */
export interface FailureLimiter {
  /**
   * recordFailure adds one failure at `nowMs` to each name and returns each name's count, in
   * order: one round trip whatever the number of names. Each name holds at most `limit` entries
   * and is forgotten `windowMs` after its last failure, so names an attacker makes up cost a
   * bounded amount, and only for a window.
   */
  recordFailure(names: readonly CountedName[], windowMs: number, nowMs: number): Promise<FailureCount[]>;
}

/** checkFailureArgs throws a TypeError for names or a window no backend can count. */
export function checkFailureArgs(names: readonly CountedName[], windowMs: number, nowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new TypeError("recordFailure: windowMs must be a positive integer");
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) throw new TypeError("recordFailure: nowMs must be a non-negative integer");
  for (const { limit } of names) {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new TypeError("recordFailure: each limit must be an integer in [1, 10000]");
  }
}

/**
 * createMemoryFailureLimiter counts in this process only (the memory backend); it behaves as the
 * Redis script does, names expiring a window after their last failure.
 */
export function createMemoryFailureLimiter(assertOpen: () => void): FailureLimiter & { readonly size: () => number } {
  const windows = new Map<string, { times: number[]; until: number }>();
  const minSweepAt = 1024;
  let sweepAt = minSweepAt;
  return {
    size: () => windows.size,
    async recordFailure(names, windowMs, nowMs) {
      assertOpen();
      checkFailureArgs(names, windowMs, nowMs);
      // Names an attacker makes up are dropped once their window is over, as Redis expires them.
      if (windows.size >= sweepAt) {
        for (const [name, held] of windows) if (held.until <= nowMs) windows.delete(name);
        sweepAt = Math.max(minSweepAt, windows.size * 2);
      }
      return names.map(({ name, limit }) => {
        const times = (windows.get(name)?.times ?? []).filter((at) => at > nowMs - windowMs);
        times.push(nowMs);
        times.sort((a, b) => a - b);
        const kept = times.slice(-limit);
        windows.set(name, { times: kept, until: nowMs + windowMs });
        return { count: kept.length, oldestMs: kept[0] ?? nowMs };
      });
    },
  };
}
