import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { Store } from "../../src/store/client-store.js";
import { fakeClock } from "../interceptor/fake-clock.js";

/** describeFailureLimiterContract adds the failed-authentication counts (tokens/auth-throttle.ts) to a backend's contract suite. */
export function describeFailureLimiterContract(store: () => Store): void {
  const window = 60_000;

  it("failures: counts each name over a sliding window, by the caller's clock, in one call", async () => {
    const { failures } = store();
    const clock = fakeClock(1_700_000_000_000);
    const client = { name: `client:${randomUUID()}`, limit: 5 };
    const address = { name: `address:${randomUUID()}`, limit: 3 };
    const t0 = clock.now();
    expect(await failures.recordFailure([client, address], window, clock.now())).toEqual([
      { count: 1, oldestMs: t0 },
      { count: 1, oldestMs: t0 },
    ]);
    clock.advance(10_000);
    expect(await failures.recordFailure([client], window, clock.now())).toEqual([{ count: 2, oldestMs: t0 }]);
    clock.advance(10_000);
    expect(await failures.recordFailure([client, address], window, clock.now())).toEqual([
      { count: 3, oldestMs: t0 },
      { count: 2, oldestMs: t0 },
    ]);
    // The first failure leaves the window at t0 + window exactly; the others stay.
    clock.advance(t0 + window - clock.now());
    expect(await failures.recordFailure([client], window, clock.now())).toEqual([{ count: 3, oldestMs: t0 + 10_000 }]);
  });

  it("failures: keep at most `limit` entries per name, the newest, so a block ends a window after the limit-th newest", async () => {
    const { failures } = store();
    const clock = fakeClock(1_700_000_000_000);
    const name = { name: `client:${randomUUID()}`, limit: 3 };
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      times.push(clock.now());
      const [count] = await failures.recordFailure([name], window, clock.now());
      expect(count).toEqual({ count: Math.min(i + 1, 3), oldestMs: times[Math.max(0, i - 2)] });
      clock.advance(1_000);
    }
  });

  it("failures: a name is forgotten a window after its last failure; names do not share counts", async () => {
    const { failures } = store();
    const clock = fakeClock(1_700_000_000_000);
    const [a, b] = [
      { name: `client:${randomUUID()}`, limit: 2 },
      { name: `client:${randomUUID()}`, limit: 2 },
    ];
    await failures.recordFailure([a], window, clock.now());
    await failures.recordFailure([a], window, clock.now());
    expect(await failures.recordFailure([b], window, clock.now())).toEqual([{ count: 1, oldestMs: clock.now() }]);
    clock.advance(window);
    expect(await failures.recordFailure([a], window, clock.now())).toEqual([{ count: 1, oldestMs: clock.now() }]);
  });

  it("failures: any string is a name (long, odd characters, braces); bad limits and windows are refused", async () => {
    const { failures } = store();
    const odd = { name: `client:{x}*?\n${"é".repeat(300)}`, limit: 1 };
    expect((await failures.recordFailure([odd], window, 1_000))[0]?.count).toBe(1);
    expect(await failures.recordFailure([], window, 1_000)).toEqual([]);
    await expect(failures.recordFailure([{ name: "x", limit: 0 }], window, 1_000)).rejects.toThrow(TypeError);
    await expect(failures.recordFailure([{ name: "x", limit: 1 }], 0, 1_000)).rejects.toThrow(TypeError);
    await expect(failures.recordFailure([{ name: "x", limit: 1 }], 1.5, 1_000)).rejects.toThrow(TypeError);
  });
}
