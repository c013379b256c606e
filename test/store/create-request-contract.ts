import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { CreateRequest, Store } from "../../src/store/client-store.js";
import { clientIdsOf, makeRecord, newOrganizationId } from "./client-record-fixtures.js";

const hour = 3_600_000;

function request(key = randomBytes(32).toString("base64url"), ttlMs = hour): CreateRequest {
  return { key, bytes: new Uint8Array(randomBytes(40)), ttlMs };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** describeCreateRequestContract adds ClientStore.createOnce (idempotent creates) to a backend's contract suite. */
export function describeCreateRequestContract(store: () => Store): void {
  it("createOnce: creates the record, its index entry and the request; the same request again writes nothing and returns the kept bytes", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const first = makeRecord(org);
    const kept = request();
    expect(await clients.createOnce(first, kept)).toEqual({ created: true });
    expect((await clients.get(first.client!.clientId))?.client?.name).toBe(first.client?.name);

    // The retry (a new id and secret, as a new attempt makes them) finds the first attempt.
    const retry = makeRecord(org, { name: "the retry" });
    const again = await clients.createOnce(retry, { ...request(kept.key), bytes: new Uint8Array([9]) });
    expect(again.created).toBe(false);
    expect(again.created === false && Buffer.from(again.earlier!).equals(Buffer.from(kept.bytes))).toBe(true);
    expect(await clients.get(retry.client!.clientId)).toBeUndefined();
    const page = await clients.list(org, { limit: 10 });
    expect([page.total, clientIdsOf(page.records)]).toEqual([1, [first.client!.clientId]]);
  });

  it("createOnce: a request key belongs to one organization; another key creates", async () => {
    const { clients } = store();
    const [org, other] = [newOrganizationId(), newOrganizationId()];
    const kept = request();
    expect((await clients.createOnce(makeRecord(org), kept)).created).toBe(true);
    expect((await clients.createOnce(makeRecord(other), request(kept.key))).created).toBe(true);
    expect((await clients.createOnce(makeRecord(org), request())).created).toBe(true);
    expect((await clients.list(org, { limit: 10 })).total).toBe(2);
    expect((await clients.list(other, { limit: 10 })).total).toBe(1);
  });

  it("createOnce: a taken client id creates nothing and keeps no request, so the retry creates", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const taken = makeRecord(org);
    expect(await clients.create(taken)).toBe(true);
    const kept = request();
    const clash = makeRecord(org, { clientId: taken.client!.clientId, name: "clash" });
    expect(await clients.createOnce(clash, kept)).toEqual({ created: false, earlier: undefined });
    expect((await clients.get(taken.client!.clientId))?.client?.name).toBe(taken.client?.name);
    expect(await clients.createOnce(makeRecord(org), kept)).toEqual({ created: true });
    expect((await clients.list(org, { limit: 10 })).total).toBe(2);
  });

  it("createOnce: of concurrent attempts with one request key, exactly one creates and every other gets its bytes", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const key = randomBytes(32).toString("base64url");
    const attempts = Array.from({ length: 8 }, () => ({ record: makeRecord(org), request: request(key) }));
    const results = await Promise.all(attempts.map((a) => clients.createOnce(a.record, a.request)));
    const winners = results.flatMap((result, i) => (result.created ? [i] : []));
    expect(winners).toHaveLength(1);
    const winner = attempts[winners[0]!]!;
    for (const result of results) {
      if (!result.created) expect(Buffer.from(result.earlier!).equals(Buffer.from(winner.request.bytes))).toBe(true);
    }
    const page = await clients.list(org, { limit: 10 });
    expect(clientIdsOf(page.records)).toEqual([winner.record.client!.clientId]);
  });

  it("createOnce: a request is kept for its ttl only; after it, the same key creates anew", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    const kept = request(undefined, 150);
    expect((await clients.createOnce(makeRecord(org), kept)).created).toBe(true);
    expect((await clients.createOnce(makeRecord(org), request(kept.key, 150))).created).toBe(false);
    await sleep(300);
    expect((await clients.createOnce(makeRecord(org), request(kept.key))).created).toBe(true);
    expect((await clients.list(org, { limit: 10 })).total).toBe(2);
  });

  it("createOnce: refuses a system client, a malformed key or ttl with TypeError, writing nothing", async () => {
    const { clients } = store();
    const org = newOrganizationId();
    await expect(clients.createOnce(makeRecord("", { clientId: "m2madmin_x" }), request())).rejects.toThrow(TypeError);
    await expect(clients.createOnce(makeRecord(org), request("a:b{c}"))).rejects.toThrow(/request.key/);
    await expect(clients.createOnce(makeRecord(org), request("k".repeat(65)))).rejects.toThrow(/request.key/);
    await expect(clients.createOnce(makeRecord(org), request(undefined, 0))).rejects.toThrow(/ttlMs/);
    await expect(clients.createOnce(makeRecord(org), request(undefined, 1.5))).rejects.toThrow(/ttlMs/);
    expect((await clients.list(org, { limit: 10 })).total).toBe(0);
  });
}
