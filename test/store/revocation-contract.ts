import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { ResourceExhaustedError, UnavailableError } from "../../src/errors.js";
import { maxLiveRevocations, maxLiveRevocationsPerOrganization, revocationReserve } from "../../src/store/client-record-codec.js";
import type { Store } from "../../src/store/client-store.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** describeRevocationContract adds the RevocationStore (RFC 7009 deny list) cases to a backend's contract suite. */
export function describeRevocationContract(store: () => Store): void {
  it("revocations: a jti is denied once revoked, others are not", async () => {
    const { revocations } = store();
    const [jti, other] = [randomUUID(), randomUUID()];
    expect(await revocations.isRevoked(jti)).toBe(false);
    await revocations.revoke(jti, 60_000);
    expect(await revocations.isRevoked(jti)).toBe(true);
    expect(await revocations.isRevoked(other)).toBe(false);
    // Revoking again is harmless.
    await revocations.revoke(jti, 60_000);
    expect(await revocations.isRevoked(jti)).toBe(true);
  });

  it("revocations: the denial ends with its TTL, so the list never outgrows the live tokens", async () => {
    const { revocations } = store();
    const jti = randomUUID();
    await revocations.revoke(jti, 150);
    expect(await revocations.isRevoked(jti)).toBe(true);
    await sleep(400);
    expect(await revocations.isRevoked(jti)).toBe(false);
  });

  it("revocations: refuse an empty or oversized jti and a TTL that is not a positive integer", async () => {
    const { revocations } = store();
    await expect(revocations.revoke("", 1000)).rejects.toThrow(TypeError);
    await expect(revocations.revoke("x".repeat(257), 1000)).rejects.toThrow(TypeError);
    await expect(revocations.isRevoked("")).rejects.toThrow(TypeError);
    for (const ttl of [0, -1, 1.5, Number.NaN]) await expect(revocations.revoke(randomUUID(), ttl)).rejects.toThrow(TypeError);
  });

  it("revocations: list returns every live denial, soonest to end first, and drops ended ones", async () => {
    const { revocations } = store();
    const [late, early, brief] = [randomUUID(), randomUUID(), randomUUID()];
    const before = Date.now();
    await revocations.revoke(late, 120_000);
    await revocations.revoke(early, 60_000);
    await revocations.revoke(brief, 150);
    const listed = await revocations.list();
    expect(listed.map((entry) => entry.jti)).toEqual([brief, early, late]);
    // The end is the store's clock plus the TTL: within a second of ours.
    expect(Math.abs((listed[2]?.untilMs ?? 0) - (before + 120_000))).toBeLessThan(1000);
    await sleep(400);
    expect((await revocations.list()).map((entry) => entry.jti)).toEqual([early, late]);
    // Revoking again restarts the time, and lists the jti once.
    await revocations.revoke(early, 180_000);
    expect((await revocations.list()).map((entry) => entry.jti)).toEqual([late, early]);
  });

  it(`revocations: at most ${maxLiveRevocations} live; past it a new jti is refused (retryable) and nothing changes`, async () => {
    const { revocations } = store();
    const jtis = Array.from({ length: maxLiveRevocations }, () => randomUUID());
    // Short-lived, so the full list ends before the other cases of this store could meet it.
    for (let i = 0; i < jtis.length; i += 500) await Promise.all(jtis.slice(i, i + 500).map((jti) => revocations.revoke(jti, 1500)));
    const extra = randomUUID();
    const refused = await revocations.revoke(extra, 60_000).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(UnavailableError);
    expect((refused as UnavailableError).retryable).toBe(true);
    expect(await revocations.isRevoked(extra)).toBe(false);
    // A jti already listed may still be revoked again: the list does not grow.
    await revocations.revoke(jtis[0] as string, 1500);
    expect((await revocations.list()).length).toBe(maxLiveRevocations);
    // Once they end, there is room again.
    await sleep(1800);
    await revocations.revoke(extra, 60_000);
    expect((await revocations.list()).map((entry) => entry.jti)).toEqual([extra]);
  });

  it(`revocations: one organization holds at most ${maxLiveRevocationsPerOrganization} live; past it its new jti is refused (429), others' are not`, async () => {
    const { revocations } = store();
    const [mine, theirs] = [`org_${randomUUID().slice(0, 8)}`, `org_${randomUUID().slice(0, 8)}`];
    const jtis = Array.from({ length: maxLiveRevocationsPerOrganization }, () => randomUUID());
    await Promise.all(jtis.map((jti) => revocations.revoke(jti, 1500, mine)));
    const extra = randomUUID();
    const refused = await revocations.revoke(extra, 60_000, mine).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ResourceExhaustedError);
    expect((refused as ResourceExhaustedError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((refused as ResourceExhaustedError).retryAfterSeconds).toBeLessThanOrEqual(2);
    expect(await revocations.isRevoked(extra)).toBe(false);
    // Its own jti again, another organization's, and the environment's own are still taken.
    await revocations.revoke(jtis[0] as string, 1500, mine);
    await revocations.revoke(randomUUID(), 1500, theirs);
    await revocations.revoke(randomUUID(), 1500);
    await expect(revocations.revoke(randomUUID(), 1500, "not an org id")).rejects.toThrow(TypeError);
    await sleep(1800);
    await revocations.revoke(extra, 1500, mine);
    expect(await revocations.isRevoked(extra)).toBe(true);
    await sleep(1600);
  });

  it(`revocations: organizations stop at ${maxLiveRevocations - revocationReserve} live, the rest kept for the environment's own`, async () => {
    const { revocations } = store();
    const jtis = Array.from({ length: maxLiveRevocations - revocationReserve }, () => randomUUID());
    for (let i = 0; i < jtis.length; i += 500) await Promise.all(jtis.slice(i, i + 500).map((jti) => revocations.revoke(jti, 1500)));
    await expect(revocations.revoke(randomUUID(), 1500, "org_tenant")).rejects.toBeInstanceOf(UnavailableError);
    // The operator can still cut off a leaked token.
    const leaked = randomUUID();
    await revocations.revoke(leaked, 1500);
    expect(await revocations.isRevoked(leaked)).toBe(true);
    await sleep(1800);
    expect(await revocations.isRevoked(leaked)).toBe(false);
    expect(await revocations.isRevoked(jtis[0] as string)).toBe(false);
  });
}
