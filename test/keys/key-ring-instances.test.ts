import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { createKeyRing, keyRingStateName, type KeyRing, type KeyRingOptions } from "../../src/keys/key-ring.js";
import type { Store } from "../../src/store/client-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { logged, recordingLogger } from "./logger.js";

// Several instances on one Redis: each ring has its own connection, as separate processes would.

const opened: { stores: Store[]; rings: KeyRing[] } = { stores: [], rings: [] };

afterEach(async () => {
  for (const ring of opened.rings.splice(0)) await ring.close();
  for (const store of opened.stores.splice(0)) await store.close();
});

function instances(count: number): Store[] {
  const keyPrefix = uniquePrefix();
  const stores = Array.from({ length: count }, () => createRedisStore({ url: testRedisUrl(), keyPrefix }));
  opened.stores.push(...stores);
  return stores;
}

async function ring(store: Store, options: Partial<KeyRingOptions> = {}): Promise<KeyRing> {
  const made = await createKeyRing({ state: store.state, alg: "ES256", ...options });
  opened.rings.push(made);
  return made;
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function storedRing(store: Store) {
  return fromBinary(SigningKeyRingSchema, (await store.state.get(keyRingStateName))!);
}

describe("key ring instances on one Redis", () => {
  it("agree on the keys when they start at once, and keep them across a restart", async () => {
    const [s1, s2, s3] = instances(3);
    const [a, b] = await Promise.all([ring(s1!), ring(s2!)]);
    expect(b.jwks()).toEqual(a.jwks());
    expect(b.current().kid).toBe(a.current().kid);
    await a.close();
    const restarted = await ring(s3!);
    expect(restarted.jwks()).toEqual(a.jwks());
    expect(restarted.list()).toEqual(a.list());
  });

  it("rotate exactly once when two instances rotate at the same moment", async () => {
    const [s1, s2] = instances(2);
    const logs = [recordingLogger(), recordingLogger()];
    const a = await ring(s1!, { logger: logs[0] });
    const b = await ring(s2!, { logger: logs[1] });
    const [before, next] = a.list().map((k) => k.kid);
    const [fromA, fromB] = await Promise.all([a.rotate({ force: true }), b.rotate({ force: true })]);
    expect(fromA.kid).toBe(next);
    expect(fromB.kid).toBe(next);
    expect(a.current().kid).toBe(next);
    expect(b.current().kid).toBe(next);
    expect(logged(logs[0]!, "info", /signing key rotated/) + logged(logs[1]!, "info", /signing key rotated/)).toBe(1);
    expect(logged(logs[0]!, "warn", /forced signing key rotation/) + logged(logs[1]!, "warn", /forced signing key rotation/)).toBe(1);
    const stored = await storedRing(s1!);
    expect(stored.keys.map((k) => k.kid)).toEqual([next, a.list()[1]!.kid, before]);
    expect(b.jwks()).toEqual(a.jwks());
  });

  it("picks up another instance's rotation within the reload interval", async () => {
    const [s1, s2] = instances(2);
    const a = await ring(s1!);
    const b = await ring(s2!, { reloadIntervalMs: 50 });
    const rotated = await a.rotate({ force: true });
    expect(b.current().kid).not.toBe(rotated.kid);
    const started = Date.now();
    await until(() => b.current().kid === rotated.kid, 1000);
    expect(Date.now() - started).toBeLessThan(500);
    expect(b.jwks()).toEqual(a.jwks());
  });

  it("rotates automatically on exactly one instance (a lock), and both sign with the new key", async () => {
    const [s1, s2] = instances(2);
    let now = 1_700_000_000_000;
    const period = 86_400_000;
    const timing = { now: () => now, rotationPeriodMs: period, rotationCheckIntervalMs: 20, reloadIntervalMs: 20 };
    const logs = [recordingLogger(), recordingLogger()];
    const scheduled: string[][] = [[], []];
    const [a, b] = await Promise.all([
      ring(s1!, { ...timing, logger: logs[0], onScheduledRotation: (key) => scheduled[0]!.push(key.kid) }),
      ring(s2!, { ...timing, logger: logs[1], onScheduledRotation: (key) => scheduled[1]!.push(key.kid) }),
    ]);
    const first = a.current().kid;
    await new Promise((r) => setTimeout(r, 100));
    expect(a.current().kid).toBe(first);

    now += period;
    await until(() => a.current().kid !== first && b.current().kid !== first);
    // Let both instances check again a few times: the new key is young, nobody rotates again.
    await new Promise((r) => setTimeout(r, 200));
    expect(b.current().kid).toBe(a.current().kid);
    expect(logged(logs[0]!, "info", /signing key rotated/) + logged(logs[1]!, "info", /signing key rotated/)).toBe(1);
    // Only the instance that rotated is told (the service audits it), with the new signing key.
    expect(scheduled.flat()).toEqual([a.current().kid]);
    expect((await storedRing(s1!)).keys).toHaveLength(3);
  });

  it("lets only the lock holder rotate when both find the period passed", async () => {
    const [s1, s2] = instances(2);
    let now = 1_700_000_000_000;
    const scheduled: string[] = [];
    const options = {
      now: () => now,
      rotationPeriodMs: 1000,
      rotationCheckIntervalMs: 3_600_000,
      onScheduledRotation: (key: { kid: string }) => scheduled.push(key.kid),
    };
    const a = await ring(s1!, options);
    const b = await ring(s2!, options);
    now += 302_000; // past the period, and the next key has been published for the JWKS max-age
    const results = await Promise.all([a.rotateIfDue(), b.rotateIfDue()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    await b.reload();
    expect(b.current().kid).toBe(a.current().kid);
    expect(scheduled).toEqual([a.current().kid]);
    expect((await storedRing(s1!)).keys).toHaveLength(3);
  });
});
