import { expect, it } from "vitest";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { ClientStore, SecretUseEntry, Store } from "../../src/store/client-store.js";
import { makeRecord, newClientId, newOrganizationId } from "./client-record-fixtures.js";

const t0 = Date.UTC(2025, 0, 1);
const secretIds = ["sec_1", "sec_2", ...Array.from({ length: 8 }, (_, i) => `sec_m${i}`)];

/** createClient stores a new client of `organizationId`, holding the secrets these cases use, and returns its id. */
async function createClient(clients: ClientStore, organizationId: string): Promise<string> {
  const record = makeRecord(organizationId, { secretIds });
  expect(await clients.create(record)).toBe(true);
  return record.client?.clientId ?? "";
}

/** describeSecretUseContract adds the secret-use cases to a backend's contract suite. */
export function describeSecretUseContract(store: () => Store): void {
  it("secret use: keeps the latest time of each secret, drops unknown clients, takes many at once", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const idA = await createClient(clients, org);
    const idB = await createClient(clients, org);
    const idIdle = await createClient(clients, org);
    const unknown = newClientId(org);
    const use = (clientId: string, secretId: string, ms: number): SecretUseEntry => ({ clientId, secretId, timeMs: t0 + ms });
    await clients.recordSecretUse([use(idA, "sec_1", 100), use(idA, "sec_2", 50), use(idB, "sec_1", 70), use(unknown, "sec_1", 999), use(idA, "sec_1", 80)]);
    await clients.recordSecretUse([use(idA, "sec_1", 90), use(idA, "sec_2", 60)]);
    await clients.recordSecretUse([]);
    const many = Array.from({ length: 40 }, (_, i) => use(idB, `sec_m${i % 8}`, 1_000 + i));
    await clients.recordSecretUse(many);

    const times = await clients.secretUse([idA, idB, unknown, idIdle]);
    expect([...times.keys()].sort()).toEqual([idA, idB].sort());
    expect(times.get(idA)).toEqual(
      new Map([
        ["sec_1", t0 + 100],
        ["sec_2", t0 + 60],
      ]),
    );
    const timesB = times.get(idB);
    expect(timesB?.size).toBe(9);
    expect(timesB?.get("sec_1")).toBe(t0 + 70);
    for (let i = 0; i < 8; i++) expect(timesB?.get(`sec_m${i}`)).toBe(t0 + 1_032 + i);
    expect(await clients.secretUse([])).toEqual(new Map());
    expect(await clients.secretUse([idIdle, unknown])).toEqual(new Map());
  });

  it("secret use: returned times are copies", async () => {
    const { clients } = store();
    const clientId = await createClient(clients, newOrganizationId());
    await clients.recordSecretUse([{ clientId, secretId: "sec_1", timeMs: t0 }]);
    (await clients.secretUse([clientId])).get(clientId)?.set("sec_1", 0);
    expect((await clients.secretUse([clientId])).get(clientId)?.get("sec_1")).toBe(t0);
  });

  it("secret use: delete removes the times, and a later use of the deleted client is dropped", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const idKept = await createClient(clients, org);
    const idGone = await createClient(clients, org);
    await clients.recordSecretUse([
      { clientId: idKept, secretId: "sec_1", timeMs: t0 },
      { clientId: idGone, secretId: "sec_1", timeMs: t0 },
    ]);
    expect(await clients.delete(org, idGone)).toBe(true);
    expect([...(await clients.secretUse([idKept, idGone])).keys()]).toEqual([idKept]);
    await clients.recordSecretUse([{ clientId: idGone, secretId: "sec_1", timeMs: t0 + 1 }]);
    expect((await clients.secretUse([idGone])).size).toBe(0);
  });

  it("secret use: an update that removes a secret removes its time with it; a later use of it is dropped", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const clientId = await createClient(clients, org);
    await clients.recordSecretUse([
      { clientId, secretId: "sec_1", timeMs: t0 },
      { clientId, secretId: "sec_2", timeMs: t0 + 1 },
      { clientId, secretId: "sec_m0", timeMs: t0 + 2 },
    ]);
    const drop = (ids: string[]) => (record: ClientRecord) => {
      record.secretHashes = record.secretHashes.filter((hash) => !ids.includes(hash.secretId));
      if (record.client) record.client.secrets = record.client.secrets.filter((secret) => !ids.includes(secret.id));
      return record;
    };
    await clients.update(org, clientId, drop(["sec_2", "sec_m0"]));
    expect((await clients.secretUse([clientId])).get(clientId)).toEqual(new Map([["sec_1", t0]]));
    // A use the token path noted before the delete, flushed after it, does not bring it back.
    await clients.recordSecretUse([
      { clientId, secretId: "sec_2", timeMs: t0 + 10 },
      { clientId, secretId: "sec_1", timeMs: t0 + 11 },
      { clientId, secretId: "sec_", timeMs: t0 + 12 }, // a prefix of a held id matches nothing
    ]);
    expect((await clients.secretUse([clientId])).get(clientId)).toEqual(new Map([["sec_1", t0 + 11]]));
    // An update that keeps every secret keeps every time; removing the last used one leaves none.
    await clients.update(org, clientId, (record) => record);
    expect((await clients.secretUse([clientId])).get(clientId)?.get("sec_1")).toBe(t0 + 11);
    await clients.update(org, clientId, drop(["sec_1"]));
    expect((await clients.secretUse([clientId])).size).toBe(0);
  });
}
