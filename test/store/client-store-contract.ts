import { equals } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientRecordSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { ClientStore, Store } from "../../src/store/client-store.js";
import { clientIdsOf, makeRecord, newClientId, newOrganizationId } from "./client-record-fixtures.js";
import { describeAssertionUseContract } from "./assertion-use-contract.js";
import { describeClientUpdateContract } from "./client-update-contract.js";
import { describeCreateRequestContract } from "./create-request-contract.js";
import { describeFailureLimiterContract } from "./failure-limiter-contract.js";
import { describeResourceServerContract } from "./resource-server-contract.js";
import { describeRevocationContract } from "./revocation-contract.js";
import { describeSecretUseContract } from "./secret-use-contract.js";
import { describeStateStoreContract } from "./state-store-contract.js";

const t0 = Date.UTC(2025, 0, 1);

/** describeClientStoreContract runs the behaviour every Store backend must share. */
export function describeClientStoreContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`${name}: client store contract`, () => {
    let store: Store;
    let clients: ClientStore;
    let org: string;
    beforeEach(async () => {
      store = await makeStore();
      clients = store.clients;
      org = newOrganizationId();
    });
    afterEach(async () => {
      await store.close();
    });

    it("round-trips every field of a record", async () => {
      const record = makeRecord(org, { createMs: t0 + 123 });
      expect(await clients.create(record)).toBe(true);
      const got = await clients.get(record.client?.clientId ?? "");
      expect(got && equals(ClientRecordSchema, got, record)).toBe(true);
      expect(got?.client?.createTime).toEqual(record.client?.createTime);
      expect(got?.client?.customClaims[0]?.value).toBe("gold");
      expect(Array.from(got?.secretHashes[0]?.hash ?? [])).toEqual(Array.from(record.secretHashes[0]?.hash ?? []));
    });

    it("refuses a second create of a taken id and keeps the first record", async () => {
      const first = makeRecord(org, { createMs: t0, name: "first" });
      const clientId = first.client?.clientId ?? "";
      expect(await clients.create(first)).toBe(true);
      const other = newOrganizationId();
      expect(await clients.create(makeRecord(other, { clientId, name: "second" }))).toBe(false);
      expect(await clients.create(makeRecord(org, { clientId, name: "third", createMs: t0 + 9 }))).toBe(false);
      expect((await clients.get(clientId))?.client?.name).toBe("first");
      expect(clientIdsOf((await clients.list(org, { limit: 10 })).records)).toEqual([clientId]);
      expect((await clients.list(other, { limit: 10 })).total).toBe(0);
    });

    it("returns undefined for an unknown id", async () => {
      expect(await clients.get(newClientId(org))).toBeUndefined();
      expect(await clients.get("no-such-client")).toBeUndefined();
    });

    it("lists by creation time then id, in pages with cursors and a total", async () => {
      const records = Array.from({ length: 25 }, (_, i) => makeRecord(org, { createMs: t0 + i * 1000 }));
      for (const record of [...records].reverse()) expect(await clients.create(record)).toBe(true);
      const sizes: number[] = [];
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await clients.list(org, { limit: 10, cursor });
        expect(page.total).toBe(25);
        sizes.push(page.records.length);
        seen.push(...clientIdsOf(page.records));
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(sizes).toEqual([10, 10, 5]);
      expect(seen).toEqual(clientIdsOf(records));
      const tied = ["zzzz", "aaaa", "mmmm"].map((body) => makeRecord(org, { clientId: newClientId(org, body), createMs: t0 - 1 }));
      for (const record of tied) await clients.create(record);
      const first = await clients.list(org, { limit: 3 });
      expect(clientIdsOf(first.records)).toEqual(clientIdsOf(tied).sort());
    });

    it("pages stably while records are created and deleted between pages", async () => {
      const records = Array.from({ length: 30 }, (_, i) => makeRecord(org, { createMs: t0 + i * 1000 }));
      for (const record of records) await clients.create(record);
      const ids = clientIdsOf(records);
      const seen: string[] = [];
      let page = await clients.list(org, { limit: 10 });
      seen.push(...clientIdsOf(page.records));
      const deleted = [ids[3] ?? "", ids[15] ?? "", ids[25] ?? ""];
      for (const id of deleted) expect(await clients.delete(org, id)).toBe(true);
      for (const ms of [t0 - 5000, t0 + 15_500, t0 + 100_000]) await clients.create(makeRecord(org, { createMs: ms }));
      while (page.cursor !== undefined) {
        page = await clients.list(org, { limit: 10, cursor: page.cursor });
        seen.push(...clientIdsOf(page.records));
        await clients.create(makeRecord(org, { createMs: t0 + 12_500 }));
      }
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of ids.filter((id) => !deleted.includes(id))) expect(seen).toContain(id);
    });

    it("lists an organization without clients as empty", async () => {
      expect(await clients.list(org, { limit: 10 })).toEqual({ records: [], total: 0, cursor: undefined });
    });

    it("deletes a record and its index entry", async () => {
      const records = [0, 1, 2].map((i) => makeRecord(org, { createMs: t0 + i }));
      for (const record of records) await clients.create(record);
      const victim = records[1]?.client?.clientId ?? "";
      expect(await clients.delete(org, victim)).toBe(true);
      expect(await clients.get(victim)).toBeUndefined();
      const page = await clients.list(org, { limit: 10 });
      expect(page.total).toBe(2);
      expect(clientIdsOf(page.records)).not.toContain(victim);
      expect(await clients.delete(org, victim)).toBe(false);
    });

    it("refuses to delete a record of another organization", async () => {
      const record = makeRecord(org);
      const clientId = record.client?.clientId ?? "";
      await clients.create(record);
      expect(await clients.delete(newOrganizationId(), clientId)).toBe(false);
      expect(await clients.delete("", clientId)).toBe(false);
      expect((await clients.get(clientId))?.client?.clientId).toBe(clientId);
      expect((await clients.list(org, { limit: 10 })).total).toBe(1);
    });

    it("returns false when deleting an unknown client", async () => {
      expect(await clients.delete(org, newClientId(org))).toBe(false);
    });

    it("keeps system clients (no organization) retrievable but never listed", async () => {
      const admin = makeRecord("", { clientId: `admin-${newOrganizationId()}` });
      const clientId = admin.client?.clientId ?? "";
      expect(await clients.create(admin)).toBe(true);
      expect((await clients.get(clientId))?.client?.name).toBe(admin.client?.name);
      expect(await clients.list("", { limit: 10 })).toEqual({ records: [], total: 0, cursor: undefined });
      expect(await clients.delete("", clientId)).toBe(false);
      expect(await clients.create(makeRecord("", { clientId }))).toBe(false);
    });

    it("hands out copies: changing a record passed in or returned changes nothing stored", async () => {
      const record = makeRecord(org);
      const clientId = record.client?.clientId ?? "";
      await clients.create(record);
      const hash = Array.from(record.secretHashes[0]?.hash ?? []);
      if (record.client) record.client.name = "changed after create";
      const got = await clients.get(clientId);
      if (got?.client) got.client.scopes.push("admin");
      got?.secretHashes[0]?.hash.fill(0);
      const listed = (await clients.list(org, { limit: 1 })).records[0];
      if (listed?.client) listed.client.name = "changed after list";
      const again = await clients.get(clientId);
      expect(again?.client?.name).toBe(`client ${clientId}`);
      expect(again?.client?.scopes).toEqual(["read:things", "write:things"]);
      expect(Array.from(again?.secretHashes[0]?.hash ?? [])).toEqual(hash);
    });

    it("rejects developer misuse with TypeError", async () => {
      await expect(clients.list(org, { limit: 0 })).rejects.toThrow(TypeError);
      await expect(clients.list(org, { limit: 1.5 })).rejects.toThrow(/limit/);
      await expect(clients.create(makeRecord(org, { clientId: "" }))).rejects.toThrow(/client_id/);
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describeClientUpdateContract(() => store);
    describeCreateRequestContract(() => store);
    describeSecretUseContract(() => store);
    describeAssertionUseContract(() => store);
    describeStateStoreContract(() => store);
    describeRevocationContract(() => store);
    describeFailureLimiterContract(() => store);
    describeResourceServerContract(() => store);
  });
}
