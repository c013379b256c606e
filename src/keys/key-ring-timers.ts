/** KeyRingTimerOptions says what a key ring does periodically. */
export interface KeyRingTimerOptions {
  /** reload re-reads the ring, picking up other instances' rotations. */
  reload: () => Promise<void>;
  reloadIntervalMs: number;
  /** rotateIfDue rotates when the period has passed; undefined: no automatic rotation. */
  rotateIfDue: (() => Promise<unknown>) | undefined;
  rotationCheckIntervalMs: number;
  /** onError reports the first of consecutive failed runs (e.g. the store is down); the timer keeps going. */
  onError: (err: unknown, task: "reload" | "rotation") => void;
}

/** KeyRingTimers stops the timers. */
export interface KeyRingTimers {
  stop(): void;
}

/**
 * startKeyRingTimers runs the reload and the rotation check on intervals; a run is skipped while
 * the previous one of the same task is still going. The timers are unref'd: they never keep the
 * process alive.
 */
export function startKeyRingTimers(options: KeyRingTimerOptions): KeyRingTimers {
  const timers: NodeJS.Timeout[] = [];
  function every(ms: number, task: "reload" | "rotation", run: () => Promise<unknown>): void {
    let running = false;
    let failing = false; // an outage is reported once, not every interval
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      run()
        .then(
          () => (failing = false),
          (err: unknown) => {
            if (!failing) options.onError(err, task);
            failing = true;
          },
        )
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    timers.push(timer);
  }
  every(options.reloadIntervalMs, "reload", options.reload);
  if (options.rotateIfDue !== undefined) every(options.rotationCheckIntervalMs, "rotation", options.rotateIfDue);
  return {
    stop() {
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}
