import { describe, expect, it } from "vitest";
import { UnavailableError } from "../../src/errors.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { fakeClock } from "../interceptor/fake-clock.js";
import { makeRecord, newOrganizationId } from "./client-record-fixtures.js";
import { describeClientStoreContract } from "./client-store-contract.js";

describeClientStoreContract("memory store", async () => createMemoryStore());

describe("memory store", () => {
  it("fails like an unreachable Redis once closed", async () => {
    const store = createMemoryStore();
    await store.close();
    await expect(store.clients.get("x")).rejects.toBeInstanceOf(UnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
    await expect(store.resourceServers.lookup(["api.example.com"])).rejects.toBeInstanceOf(UnavailableError);
  });

  it("expires kept create answers and locks by the injected clock, as Redis does by its own", async () => {
    const clock = fakeClock(1_700_000_000_000);
    const store = createMemoryStore({ now: clock.now });
    const org = newOrganizationId();
    const request = { key: "request-1", bytes: new Uint8Array([1]), ttlMs: 1000 };
    expect(await store.clients.createOnce(makeRecord(org), request)).toEqual({ created: true });
    clock.advance(999);
    expect((await store.clients.createOnce(makeRecord(org), request)).created).toBe(false);
    clock.advance(1);
    expect(await store.clients.createOnce(makeRecord(org), request)).toEqual({ created: true });

    expect(await store.state.acquireLock("rotation", "a", 1000)).toBe(true);
    clock.advance(999);
    expect(await store.state.acquireLock("rotation", "b", 1000)).toBe(false);
    clock.advance(1);
    expect(await store.state.acquireLock("rotation", "b", 1000)).toBe(true);
  });
});
