import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { FailedPreconditionError } from "../../src/errors.js";
import { createKeyRing, keyRingStateName, type KeyRing } from "../../src/keys/key-ring.js";
import { maxPreviousKeys } from "../../src/keys/key-ring-record.js";
import { keyRetentionMs } from "../../src/rules.js";
import { generateSigningKey } from "../../src/keys/signing-key.js";
import type { StateStore } from "../../src/store/client-store.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { logged, recordingLogger } from "./logger.js";

// A rotation that cannot break verifiers: the next key must have been published for the JWKS
// max-age (plus the reload interval) before it signs, and the ring keeps a bounded number of
// previous keys. `force` overrides both, loudly.

const t0 = 1_700_000_000_000;
const window = 302_000; // the default JWKS max-age (300 s) plus the default reload interval (2 s)

async function refusal(ring: KeyRing): Promise<FailedPreconditionError> {
  const err = await ring.rotate().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FailedPreconditionError);
  return err as FailedPreconditionError;
}

async function storedRing(state: StateStore) {
  return fromBinary(SigningKeyRingSchema, (await state.get(keyRingStateName))!);
}

describe("rotation guard", () => {
  it("refuses a rotation a second after the last one, naming the time left; force rotates anyway, with a warning", async () => {
    let now = t0;
    const logger = recordingLogger();
    const state = createMemoryStore().state;
    const ring = await createKeyRing({ state, alg: "ES256", now: () => now, logger });
    try {
      now += window;
      const second = ring.list()[1]!.kid;
      expect((await ring.rotate()).kid).toBe(second);
      // "Two RotateSigningKey calls a second apart": the new next key is 1 s old.
      now += 1000;
      const err = await refusal(ring);
      expect(err.code).toBe("failed_precondition");
      expect(err.message).toMatch(/published 1 s ago.*rotate again in 301 s.*force/);
      expect(ring.current().kid).toBe(second);
      expect((await storedRing(state)).keys[0]!.kid).toBe(second);

      now += window - 1001;
      expect((await refusal(ring)).message).toMatch(/rotate again in 1 s/);
      now += 1;
      const third = ring.list()[1]!.kid;
      expect((await ring.rotate()).kid).toBe(third);

      // Forced: rotates at once, and says what it breaks.
      const fourth = ring.list()[1]!.kid;
      expect((await ring.rotate({ force: true })).kid).toBe(fourth);
      expect(logged(logger, "warn", /forced signing key rotation/)).toBe(1);
      expect(ring.list().map((k) => k.status)).toEqual(["current", "next", "previous", "previous", "previous"]);
    } finally {
      await ring.close();
    }
  });

  it("waits for the JWKS max-age it is configured with, which the JWKS route sends", async () => {
    let now = t0;
    const ring = await createKeyRing({ state: createMemoryStore().state, alg: "EdDSA", now: () => now, jwksMaxAgeSeconds: 60, reloadIntervalMs: 500 });
    try {
      expect(ring.jwksMaxAgeSeconds).toBe(60);
      now += 60_499;
      expect((await refusal(ring)).message).toMatch(/max-age plus reload: 61 s\); rotate again in 1 s/);
      now += 1;
      await ring.rotate();
    } finally {
      await ring.close();
    }
  });

  it("keeps at most 10 previous keys: rotations wait for the oldest to retire; 78 forced rotations leave 12 keys, not 80", async () => {
    let now = t0;
    const state = createMemoryStore().state;
    const ring = await createKeyRing({ state, alg: "EdDSA", now: () => now });
    try {
      const demoted: string[] = [];
      for (let i = 0; i < maxPreviousKeys; i++) {
        now += window;
        demoted.unshift(ring.current().kid);
        await ring.rotate();
      }
      expect(ring.list()).toHaveLength(2 + maxPreviousKeys);
      now += window;
      // The oldest previous key was demoted at t0 + window and may verify tokens until it retires.
      const oldestRetires = t0 + window + keyRetentionMs;
      const err = await refusal(ring);
      expect(err.message).toMatch(new RegExp(`holds 10 previous keys .*rotate again in ${Math.ceil((oldestRetires - now) / 1000)} s`));
      now = oldestRetires;
      const justDemoted = ring.current().kid;
      await ring.rotate();
      // The retired one is gone; the others stay, newest first.
      expect(
        ring
          .list()
          .slice(2)
          .map((k) => k.kid),
      ).toEqual([justDemoted, ...demoted.slice(0, maxPreviousKeys - 1)]);

      // "78 rotations leave an 80-key ring": forced, as fast as they come, the ring stays bounded.
      const before = ring.list().map((k) => k.kid);
      for (let i = 0; i < 78; i++) await ring.rotate({ force: true });
      const stored = await storedRing(state);
      expect(stored.keys).toHaveLength(2 + maxPreviousKeys);
      expect(ring.jwks().keys).toHaveLength(2 + maxPreviousKeys);
      for (const kid of before) expect(ring.list().map((k) => k.kid)).not.toContain(kid);
      // The previous keys kept are the newest: each was demoted by one of the last rotations.
      const deactivated = stored.keys.slice(2).map((k) => Number(k.deactivateTimeMs));
      expect(deactivated).toEqual([...deactivated].sort((a, b) => b - a));
    } finally {
      await ring.close();
    }
  });

  it("lets automatic rotation wait for the guard, never force it", async () => {
    let now = t0;
    const ring = await createKeyRing({
      state: createMemoryStore().state,
      alg: "EdDSA",
      rotationPeriodMs: 1000,
      rotationCheckIntervalMs: 3_600_000,
      now: () => now,
    });
    try {
      const first = ring.current().kid;
      now += 1000; // due, but the next key is only 1 s old
      expect(await ring.rotateIfDue()).toBe(false);
      expect(ring.current().kid).toBe(first);
      now = t0 + window;
      expect(await ring.rotateIfDue()).toBe(true);
      expect(ring.current().kid).not.toBe(first);
      now += 1000;
      expect(await ring.rotateIfDue()).toBe(false);
    } finally {
      await ring.close();
    }
  });

  it("reads a ring stored before publish times: the next key's create time stands in", async () => {
    const state = createMemoryStore().state;
    let now = t0;
    const [current, next] = await Promise.all([generateSigningKey("ES256", t0 - 86_400_000), generateSigningKey("ES256", t0 - 10_000)]);
    const old = create(SigningKeyRingSchema, {
      keys: [
        { ...current.toRecord(), activateTimeMs: BigInt(t0 - 86_400_000) },
        next.toRecord(), // no publish_time_ms, as written before the field existed
      ],
      version: 7n,
    });
    await state.put(keyRingStateName, toBinary(SigningKeyRingSchema, old));
    const ring = await createKeyRing({ state, alg: "ES256", now: () => now });
    try {
      expect(ring.list().map((k) => k.kid)).toEqual([current.kid, next.kid]);
      expect((await refusal(ring)).message).toMatch(/published 10 s ago.*rotate again in 292 s/);
      now += 292_000;
      expect((await ring.rotate()).kid).toBe(next.kid);
      expect(Number((await storedRing(state)).keys[1]!.publishTimeMs)).toBe(now);
    } finally {
      await ring.close();
    }
  });
});
