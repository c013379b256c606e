// A clock that moves only when told to: caches age and tokens expire without any sleeping.

/** FakeClock is a settable millisecond clock for the `clock` options. */
export interface FakeClock {
  now: () => number;
  advance(ms: number): void;
  /** seconds is the clock's time in whole seconds, for token claims. */
  seconds(): number;
}

/** fakeClock returns a clock that starts at `start` (ms) and moves only by advance(). */
export function fakeClock(start = Date.now()): FakeClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
    seconds: () => Math.floor(t / 1000),
  };
}
