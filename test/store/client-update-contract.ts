import { create, equals } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect, it, vi } from "vitest";
import { type ClientRecord, ClientRecordSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { Store } from "../../src/store/client-store.js";
import { clientIdsOf, makeRecord, newClientId, newOrganizationId } from "./client-record-fixtures.js";

const t0 = Date.UTC(2025, 0, 1);

/** withScope returns a copy of `record` with `scope` appended. */
export function withScope(record: ClientRecord, scope: string): ClientRecord {
  const next = create(ClientRecordSchema, record);
  next.client?.scopes.push(scope);
  return next;
}

/** describeClientUpdateContract adds the ClientStore.update cases to a backend's contract suite. */
export function describeClientUpdateContract(store: () => Store): void {
  it("update: changes a record; get and list show it, in the same place", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const records = [0, 1, 2].map((i) => makeRecord(org, { createMs: t0 + i }));
    for (const record of records) await clients.create(record);
    const clientId = records[1]?.client?.clientId ?? "";
    const updated = await clients.update(org, clientId, (current) => {
      if (current.client) {
        current.client.name = "renamed";
        current.client.scopes = ["only:this"];
      }
      return current;
    });
    expect(updated?.client?.name).toBe("renamed");
    const got = await clients.get(clientId);
    expect(got && updated && equals(ClientRecordSchema, got, updated)).toBe(true);
    expect(got?.client?.scopes).toEqual(["only:this"]);
    expect(got?.client?.description).toBe("a test client");
    const page = await clients.list(org, { limit: 10 });
    expect(page.total).toBe(3);
    expect(clientIdsOf(page.records)).toEqual(clientIdsOf(records));
    expect(page.records[1]?.client?.name).toBe("renamed");
  });

  it("update: an unknown client, another organization's or no organization gives undefined", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const record = makeRecord(org);
    const clientId = record.client?.clientId ?? "";
    await clients.create(record);
    const change = vi.fn((current: ClientRecord) => withScope(current, "never"));
    expect(await clients.update(org, newClientId(org), change)).toBeUndefined();
    expect(await clients.update(newOrganizationId(), clientId, change)).toBeUndefined();
    expect(await clients.update("", clientId, change)).toBeUndefined();
    const admin = makeRecord("", { clientId: `admin-${newOrganizationId()}` });
    await clients.create(admin);
    expect(await clients.update("", admin.client?.clientId ?? "", change)).toBeUndefined();
    expect(change).not.toHaveBeenCalled();
    const got = await clients.get(clientId);
    expect(got && equals(ClientRecordSchema, got, record)).toBe(true);
  });

  it("update: a change that throws writes nothing, and its error reaches the caller", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const record = makeRecord(org);
    const clientId = record.client?.clientId ?? "";
    await clients.create(record);
    const refused = new Error("refused by the caller");
    await expect(
      clients.update(org, clientId, (current) => {
        if (current.client) current.client.name = "half-done";
        throw refused;
      }),
    ).rejects.toBe(refused);
    const got = await clients.get(clientId);
    expect(got && equals(ClientRecordSchema, got, record)).toBe(true);
  });

  it("update: a change of id, organization or create time is a TypeError and writes nothing", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const record = makeRecord(org, { createMs: t0 });
    const clientId = record.client?.clientId ?? "";
    await clients.create(record);
    const changes: Array<(client: NonNullable<ClientRecord["client"]>) => void> = [
      (client) => (client.clientId = newClientId(org)),
      (client) => (client.organizationId = newOrganizationId()),
      (client) => (client.createTime = timestampFromMs(t0 + 1)),
    ];
    for (const alter of changes) {
      // Both a fresh record and the one passed in, changed in place, must be caught.
      const copy = (current: ClientRecord): ClientRecord => {
        const next = create(ClientRecordSchema, current);
        if (next.client) alter(next.client);
        return next;
      };
      const inPlace = (current: ClientRecord): ClientRecord => {
        if (current.client) alter(current.client);
        return current;
      };
      await expect(clients.update(org, clientId, copy)).rejects.toThrow(TypeError);
      await expect(clients.update(org, clientId, inPlace)).rejects.toThrow(TypeError);
    }
    await expect(clients.update(org, clientId, (current) => ({ ...current, client: undefined }))).rejects.toThrow(TypeError);
    const got = await clients.get(clientId);
    expect(got && equals(ClientRecordSchema, got, record)).toBe(true);
    expect(clientIdsOf((await clients.list(org, { limit: 10 })).records)).toEqual([clientId]);
  });

  it("update: concurrent updates all apply (no lost update)", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const record = makeRecord(org);
    const clientId = record.client?.clientId ?? "";
    await clients.create(record);
    const scopes = Array.from({ length: 20 }, (_, i) => `scope:${i}`);
    const results = await Promise.all(scopes.map((scope) => clients.update(org, clientId, (current) => withScope(current, scope))));
    for (const [i, result] of results.entries()) expect(result?.client?.scopes).toContain(scopes[i]);
    const stored = (await clients.get(clientId))?.client?.scopes ?? [];
    expect([...stored].sort()).toEqual(["read:things", "write:things", ...scopes].sort());
  });
}
