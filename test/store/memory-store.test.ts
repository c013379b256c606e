import { describe, expect, it } from "vitest";
import { UnavailableError } from "../../src/errors.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { describeClientStoreContract } from "./client-store-contract.js";

describeClientStoreContract("memory store", async () => createMemoryStore());

describe("memory store", () => {
  it("fails like an unreachable Redis once closed", async () => {
    const store = createMemoryStore();
    await store.close();
    await expect(store.clients.get("x")).rejects.toBeInstanceOf(UnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
  });
});
