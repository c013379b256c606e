import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { SigningAlgorithm } from "../../src/keys/algorithms.js";
import { createKeyRing, keyRingStateName, type KeyRing } from "../../src/keys/key-ring.js";
import { keyRetentionMs } from "../../src/rules.js";
import { signJwt } from "../../src/keys/sign-jwt.js";
import { generateSigningKey } from "../../src/keys/signing-key.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { logged, recordingLogger } from "./logger.js";

const day = 86_400_000;

async function token(ring: KeyRing, nowMs: number, lifetimeSeconds = 86_400): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return signJwt(ring.current(), { iss: "i", sub: "s", aud: "a", iat, exp: iat + lifetimeSeconds });
}

async function verifies(ring: KeyRing, jwt: string, atMs: number): Promise<boolean> {
  try {
    await jwtVerify(jwt, createLocalJWKSet(ring.jwks()), { issuer: "i", audience: "a", currentDate: new Date(atMs) });
    return true;
  } catch {
    return false;
  }
}

describe("key ring", () => {
  it.each(["RS256", "ES256", "EdDSA"] as SigningAlgorithm[])("signs %s tokens that jose verifies with the published key", async (alg) => {
    const ring = await createKeyRing({ state: createMemoryStore().state, alg });
    try {
      const jwt = await token(ring, Date.now(), 60);
      expect(decodeProtectedHeader(jwt)).toEqual({ alg, kid: ring.current().kid, typ: "at+jwt" });
      const jwk = ring.jwks().keys[0]!;
      expect(jwk).toMatchObject({ alg, use: "sig", kid: ring.current().kid });
      expect(jwk.d).toBeUndefined();
      const { payload } = await jwtVerify(jwt, await importJWK(jwk, alg), { issuer: "i", audience: "a", typ: "at+jwt" });
      expect(payload.sub).toBe("s");
      // Signed on libuv's thread pool (RSA) or inline (the curves, whatever is asked): as valid.
      const pooled = await signJwt(ring.current(), { iss: "i", sub: "pooled", aud: "a" }, true);
      expect((await jwtVerify(pooled, await importJWK(jwk, alg), { issuer: "i", audience: "a" })).payload.sub).toBe("pooled");
    } finally {
      await ring.close();
    }
  });

  it("starts with a current and a next key, both in the JWKS; only the current one signs", async () => {
    let now = 1_700_000_000_000;
    const ring = await createKeyRing({ state: createMemoryStore().state, alg: "ES256", now: () => now });
    try {
      const [current, next] = ring.list();
      expect(current).toMatchObject({ status: "current", activateTime: now, retireTime: undefined, alg: "ES256" });
      expect(next).toMatchObject({ status: "next", activateTime: undefined, retireTime: undefined, alg: "ES256" });
      expect(ring.list()).toHaveLength(2);
      expect(ring.jwks().keys.map((k) => k.kid)).toEqual([current!.kid, next!.kid]);
      expect(ring.current().kid).toBe(current!.kid);
      now += 1;
      expect(ring.jwks()).toBe(ring.jwks()); // built once, not per call
    } finally {
      await ring.close();
    }
  });

  it("rotates: next becomes current, a new next appears, previous verifies until it retires, then drops", async () => {
    let now = 1_700_000_000_000;
    const state = createMemoryStore().state;
    const ring = await createKeyRing({ state, alg: "ES256", now: () => now });
    try {
      const [first, second] = ring.list().map((k) => k.kid);
      const old = await token(ring, now);
      now += 302_000; // the next key has been published for the JWKS max-age (300 s) plus the reload (2 s)
      const rotatedAt = now;
      const rotated = await ring.rotate();
      expect(rotated).toMatchObject({ kid: second, status: "current", activateTime: rotatedAt });
      expect(ring.current().kid).toBe(second);
      const [current, next, previous] = ring.list();
      expect(next!.status).toBe("next");
      expect(next!.kid).not.toBe(first);
      expect(previous).toMatchObject({ kid: first, status: "previous", deactivateTime: rotatedAt, retireTime: rotatedAt + keyRetentionMs });
      expect(keyRetentionMs).toBe(day + 300_000);
      expect(ring.jwks().keys.map((k) => k.kid)).toEqual([current!.kid, next!.kid, first]);

      // A token signed just before the rotation verifies until it expires, with the key still published.
      const fresh = await token(ring, now);
      expect(decodeProtectedHeader(fresh).kid).toBe(second);
      now = rotatedAt - 302_000 + day - 5000; // the old token expires at rotatedAt - 302 s + 1 day
      expect(await verifies(ring, old, now)).toBe(true);
      expect(await verifies(ring, fresh, now)).toBe(true);
      now = rotatedAt + keyRetentionMs - 1;
      expect(ring.jwks().keys.map((k) => k.kid)).toContain(first);
      now = rotatedAt + keyRetentionMs;
      // Retired by time, before the ring is written again.
      expect(ring.jwks().keys.map((k) => k.kid)).toEqual([current!.kid, next!.kid]);
      expect(ring.list().map((k) => k.status)).toEqual(["current", "next"]);
      const stored = fromBinary(SigningKeyRingSchema, (await state.get(keyRingStateName))!);
      expect(stored.keys.map((k) => k.kid)).toContain(first);

      // The next write drops it from the store too.
      await ring.rotate();
      const after = fromBinary(SigningKeyRingSchema, (await state.get(keyRingStateName))!);
      expect(after.keys.map((k) => k.kid)).not.toContain(first);
      expect(after.keys).toHaveLength(3);
      expect(after.version).toBe(stored.version + 1n);
    } finally {
      await ring.close();
    }
  });

  it("applies an M2M_SIGNING_ALG change to the next key only; the next rotation switches alg", async () => {
    const state = createMemoryStore().state;
    const first = await createKeyRing({ state, alg: "RS256" });
    const [current, next] = first.list();
    await first.close();

    const logger = recordingLogger();
    const restarted = await createKeyRing({ state, alg: "EdDSA", logger });
    try {
      const [kept, replaced] = restarted.list();
      expect(kept).toMatchObject({ kid: current!.kid, alg: "RS256", status: "current" });
      expect(replaced).toMatchObject({ alg: "EdDSA", status: "next" });
      expect(replaced!.kid).not.toBe(next!.kid);
      expect(restarted.list()).toHaveLength(2); // the replaced next key never signed: it is gone
      expect(decodeProtectedHeader(await token(restarted, Date.now())).alg).toBe("RS256");
      expect(logged(logger, "info", /replaced the next key RS256 → EdDSA/)).toBe(1);

      await restarted.rotate({ force: true }); // the replaced next key was published just now
      expect(decodeProtectedHeader(await token(restarted, Date.now()))).toMatchObject({ alg: "EdDSA", kid: replaced!.kid });
      expect(restarted.list().map((k) => [k.status, k.alg])).toEqual([
        ["current", "EdDSA"],
        ["next", "EdDSA"],
        ["previous", "RS256"],
      ]);
    } finally {
      await restarted.close();
    }
  });

  it("migrates a one-key ring from before rotation: its key stays current and a next key is added", async () => {
    const state = createMemoryStore().state;
    const legacy = await generateSigningKey("ES256", 1_600_000_000_000);
    await state.put(keyRingStateName, toBinary(SigningKeyRingSchema, create(SigningKeyRingSchema, { keys: [legacy.toRecord()] })));
    const ring = await createKeyRing({ state, alg: "ES256" });
    try {
      expect(ring.current().kid).toBe(legacy.kid);
      expect(ring.list().map((k) => k.status)).toEqual(["current", "next"]);
      expect(ring.list()[0]!.activateTime).toBe(1_600_000_000_000);
      const stored = fromBinary(SigningKeyRingSchema, (await state.get(keyRingStateName))!);
      expect(stored.version).toBe(1n);
      expect(stored.keys).toHaveLength(2);
    } finally {
      await ring.close();
    }
  });

  it("rotates when the current key is older than the rotation period, not before", async () => {
    let now = 1_700_000_000_000;
    const ring = await createKeyRing({ state: createMemoryStore().state, alg: "EdDSA", rotationPeriodMs: 7 * day, now: () => now });
    try {
      const kid = ring.current().kid;
      now += 7 * day - 1;
      expect(await ring.rotateIfDue()).toBe(false);
      now += 1;
      expect(await ring.rotateIfDue()).toBe(true);
      expect(ring.current().kid).not.toBe(kid);
      expect(await ring.rotateIfDue()).toBe(false);
    } finally {
      await ring.close();
    }
  });

  it("warns when private keys are stored unencrypted", async () => {
    const logger = recordingLogger();
    const ring = await createKeyRing({ state: createMemoryStore().state, alg: "EdDSA", logger });
    await ring.close();
    expect(logged(logger, "warn", /unencrypted/)).toBe(1);
  });

  it("reloads on a timer until closed, and reports a store outage once, not every interval", async () => {
    const store = createMemoryStore();
    const logger = recordingLogger();
    const a = await createKeyRing({ state: store.state, alg: "EdDSA" });
    const b = await createKeyRing({ state: store.state, alg: "EdDSA", reloadIntervalMs: 10, logger });
    const rotated = await a.rotate({ force: true });
    for (let waited = 0; b.current().kid !== rotated.kid; waited += 10) {
      expect(waited).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 10));
    }

    await store.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(logged(logger, "warn", /signing key ring task failed/)).toBe(1);
    expect(b.current().kid).toBe(rotated.kid); // the last ring read keeps signing

    await b.close();
    await a.close();
  });

  it("throws a TypeError naming a bad option", async () => {
    const state = createMemoryStore().state;
    await expect(createKeyRing({ alg: "RS256" } as never)).rejects.toThrow(/options.state/);
    await expect(createKeyRing({ state, alg: "HS256" as never })).rejects.toThrow(/options.alg/);
    await expect(createKeyRing({ state, alg: "RS256", encryptionKey: new Uint8Array(16) })).rejects.toThrow(/options.encryptionKey/);
    await expect(createKeyRing({ state, alg: "RS256", reloadIntervalMs: 0 })).rejects.toThrow(/options.reloadIntervalMs/);
    await expect(createKeyRing({ state, alg: "RS256", rotationPeriodMs: -1 })).rejects.toThrow(/options.rotationPeriodMs/);
    await expect(createKeyRing({ state, alg: "RS256", jwksMaxAgeSeconds: 1.5 })).rejects.toThrow(/options.jwksMaxAgeSeconds/);
  });
});
