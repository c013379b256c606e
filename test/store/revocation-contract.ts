import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
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
}
