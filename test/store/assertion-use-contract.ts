import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { Store } from "../../src/store/client-store.js";
import { newClientId, newOrganizationId } from "./client-record-fixtures.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** describeAssertionUseContract adds ClientStore.useOnce (single-use client assertion ids, RFC 7523 §3) to a backend's contract suite. */
export function describeAssertionUseContract(store: () => Store): void {
  it("useOnce: an id is used once per client until it expires; another client or id is apart", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const [a, b] = [newClientId(org), newClientId(org)];
    const jti = randomUUID();
    expect(await clients.useOnce(a, jti, 60_000)).toBe(true);
    expect(await clients.useOnce(a, jti, 60_000)).toBe(false);
    expect(await clients.useOnce(b, jti, 60_000)).toBe(true);
    expect(await clients.useOnce(a, randomUUID(), 60_000)).toBe(true);
    // Ids are the client's text, any of it: long ones and ones with key syntax stay apart.
    expect(await clients.useOnce("m2madmin_x:y", "{tag}:*", 60_000)).toBe(true);
    expect(await clients.useOnce("m2madmin_x", "y:{tag}:*", 60_000)).toBe(true);
    expect(await clients.useOnce(a, "x".repeat(5000), 60_000)).toBe(true);
    expect(await clients.useOnce(a, "x".repeat(5000), 60_000)).toBe(false);
  });

  it("useOnce: of many uses at once of one id, exactly one wins", async () => {
    const { clients } = store();
    const clientId = newClientId(newOrganizationId());
    const jti = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, () => clients.useOnce(clientId, jti, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("useOnce: a use is forgotten once its ttl is over; a bad ttl is refused", async () => {
    const { clients } = store();
    const clientId = newClientId(newOrganizationId());
    const jti = randomUUID();
    expect(await clients.useOnce(clientId, jti, 50)).toBe(true);
    expect(await clients.useOnce(clientId, jti, 50)).toBe(false);
    await sleep(120);
    expect(await clients.useOnce(clientId, jti, 50)).toBe(true);
    for (const ttl of [0, -1, 1.5, Number.NaN]) await expect(clients.useOnce(clientId, randomUUID(), ttl)).rejects.toBeInstanceOf(TypeError);
  });
}
