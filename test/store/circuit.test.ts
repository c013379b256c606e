import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { UnavailableError } from "../../src/errors.js";
import { createCircuit } from "../../src/store/circuit.js";
import { available, circuitOf } from "../../src/store/redis-calls.js";
import { createRedisConnection } from "../../src/store/redis-connection.js";
import { testRedisUrl } from "../support/redis.js";
import { waitUntil } from "../support/redis-process.js";

// The store's circuit: a call that fails without an answer marks the store down, calls then fail
// at once without being made, and a background probe brings it back.

/** gate is a probe the test opens and shuts. */
function gate() {
  let open = false;
  let probes = 0;
  return {
    probe: async () => {
      probes++;
      if (!open) throw new Error("still down");
    },
    open: () => (open = true),
    probes: () => probes,
  };
}

const fail = (message: string) => () => Promise.reject(new Error(message));

describe("createCircuit", () => {
  it("fails at once without calling while down, probes in the background, and reports both changes", async () => {
    const probe = gate();
    const circuit = createCircuit({ probe: probe.probe, probeIntervalMs: 10 });
    const changes: boolean[] = [];
    circuit.onChange((up) => changes.push(up));
    expect(await circuit.run(async () => 1)).toBe(1);

    const first = await circuit.run(fail("timed out")).catch((err: unknown) => err);
    expect(first).toBeInstanceOf(UnavailableError);
    expect((first as Error).cause).toMatchObject({ message: "timed out" });
    expect([circuit.up, changes]).toEqual([false, [false]]);

    let called = 0;
    await expect(circuit.run(async () => ++called)).rejects.toBeInstanceOf(UnavailableError);
    expect(called).toBe(0);
    await waitUntil(async () => probe.probes() >= 3, 2_000, "the circuit did not keep probing");
    expect(circuit.up).toBe(false);

    probe.open();
    await waitUntil(async () => circuit.up, 2_000, "a successful probe did not close the circuit");
    expect(changes).toEqual([false, true]);
    expect(await circuit.run(async () => ++called)).toBe(1);
  });

  it("is not tripped by a failure `trips` refuses, nor by a call that started before the last recovery", async () => {
    const probe = gate();
    const circuit = createCircuit({ probe: probe.probe, probeIntervalMs: 10, trips: (err) => (err as Error).message !== "answered" });
    await expect(circuit.run(fail("answered"))).rejects.toBeInstanceOf(UnavailableError);
    expect(circuit.up).toBe(true);

    let release: (err: Error) => void = () => {};
    const stale = circuit.run(() => new Promise((_, reject) => (release = reject)));
    await expect(circuit.run(fail("timed out"))).rejects.toBeInstanceOf(UnavailableError);
    expect(circuit.up).toBe(false);
    probe.open();
    await waitUntil(async () => circuit.up, 2_000, "the circuit did not close");
    release(new Error("timed out long ago"));
    await expect(stale).rejects.toBeInstanceOf(UnavailableError);
    expect(circuit.up).toBe(true);
  });

  it("stops probing once the dependency is closed for good", async () => {
    const probe = gate();
    let closed = false;
    const circuit = createCircuit({ probe: probe.probe, probeIntervalMs: 10, closed: () => closed });
    await expect(circuit.run(fail("timed out"))).rejects.toBeInstanceOf(UnavailableError);
    await waitUntil(async () => probe.probes() >= 1, 2_000, "no probe");
    closed = true;
    await new Promise((r) => setTimeout(r, 50));
    const probes = probe.probes();
    await new Promise((r) => setTimeout(r, 100));
    expect(probe.probes()).toBe(probes);
  });
});

describe("circuitOf a Redis connection", () => {
  const redis = createRedisConnection(testRedisUrl());
  afterAll(() => redis.quit());

  it("takes an error reply as Redis answering: the call fails, the store stays up", async () => {
    await expect(available(redis, () => redis.call("NO-SUCH-COMMAND"))).rejects.toBeInstanceOf(UnavailableError);
    expect(circuitOf(redis).up).toBe(true);
    expect(circuitOf(redis)).toBe(circuitOf(redis));
  });

  it("takes a timeout as the store down, and a PING as it back", async () => {
    // A client of its own with a short timeout, and a command Redis holds past it.
    const slow = new Redis(testRedisUrl(), { commandTimeout: 100 });
    slow.on("error", () => {});
    try {
      await expect(available(slow, () => slow.blpop(`m2mtest:never:${Date.now()}`, 1))).rejects.toBeInstanceOf(UnavailableError);
      expect(circuitOf(slow).up).toBe(false);
      // BLPOP blocks the connection for its second; then the probe's PING is answered.
      await waitUntil(async () => circuitOf(slow).up, 3_000, "the probe did not find Redis back");
    } finally {
      slow.disconnect();
    }
  });
});
