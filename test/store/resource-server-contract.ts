import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect, it } from "vitest";
import { ResourceServerSchema, type ResourceServer } from "../../gen/m2mauth/v1/resource_servers_pb.js";
import type { Store } from "../../src/store/client-store.js";
import { maxResourceServers } from "../../src/store/resource-server-store.js";
import { makeRecord, newOrganizationId, randomBase32 } from "./client-record-fixtures.js";

const t0 = Date.UTC(2025, 0, 1);

function server(overrides: { id?: string; audience?: string; name?: string; ms?: number } = {}): ResourceServer {
  const { ms = t0, ...fields } = overrides;
  const token = randomBase32(20);
  return create(ResourceServerSchema, {
    id: `rs_${token}`,
    audience: `api-${token}.example.com`,
    name: "An API",
    scopes: [{ name: "read:things", description: "Read things" }],
    createTime: timestampFromMs(ms),
    updateTime: timestampFromMs(ms),
    ...fields,
  });
}

/** describeResourceServerContract adds the ResourceServerStore (the registry) and ClientStore.walk cases to a backend's contract suite. */
export function describeResourceServerContract(store: () => Store): void {
  it("resource servers: create, get, lookup by audience, and a taken id or audience changes nothing", async () => {
    const registry = store().resourceServers;
    expect(await registry.lookup(["x.example.com"])).toEqual({ total: 0, servers: [] });
    const a = server();
    expect(await registry.create(a)).toBe("created");
    expect((await registry.get(a.id))?.audience).toBe(a.audience);
    expect(await registry.get("rs_none")).toBeUndefined();
    expect(await registry.create(server({ id: a.id }))).toBe("id-taken");
    expect(await registry.create(server({ audience: a.audience, name: "intruder" }))).toBe("audience-taken");
    const found = await registry.lookup([a.audience, "x.example.com"]);
    expect(found.total).toBe(1);
    expect(found.servers.map((s) => [s.id, s.name])).toEqual([[a.id, "An API"]]);
  });

  it("resource servers: list pages oldest first with a total, stable under writes", async () => {
    const registry = store().resourceServers;
    const made = [3, 1, 2, 0, 4].map((i) => server({ ms: t0 + i }));
    for (const s of made) expect(await registry.create(s)).toBe("created");
    const order = [...made].sort(
      (x, y) => Number(x.createTime?.seconds) - Number(y.createTime?.seconds) || (x.createTime?.nanos ?? 0) - (y.createTime?.nanos ?? 0),
    );
    const first = await registry.list({ limit: 2 });
    expect(first.total).toBe(5);
    expect(first.servers.map((s) => s.id)).toEqual(order.slice(0, 2).map((s) => s.id));
    // A delete of a listed server does not shift the next page.
    expect(await registry.delete(order[0]?.id ?? "")).toBe(true);
    const second = await registry.list({ limit: 2, cursor: first.cursor });
    expect(second.servers.map((s) => s.id)).toEqual(order.slice(2, 4).map((s) => s.id));
    const last = await registry.list({ limit: 2, cursor: second.cursor });
    expect(last.servers.map((s) => s.id)).toEqual([order[4]?.id]);
    expect(last.cursor).toBeUndefined();
    expect(last.total).toBe(4);
  });

  it("resource servers: update replaces atomically and must keep id, audience and create time", async () => {
    const registry = store().resourceServers;
    const a = server();
    await registry.create(a);
    const updated = await registry.update(a.id, (current) => ({ ...current, name: "Renamed", scopes: [] }));
    expect(updated?.name).toBe("Renamed");
    expect((await registry.get(a.id))?.scopes).toEqual([]);
    await expect(registry.update(a.id, (current) => ({ ...current, audience: "other.example.com" }))).rejects.toBeInstanceOf(TypeError);
    await expect(
      registry.update(a.id, () => {
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect((await registry.get(a.id))?.name).toBe("Renamed");
    expect(await registry.update("rs_none", (current) => current)).toBeUndefined();
  });

  it("resource servers: delete frees the audience and the index entry", async () => {
    const registry = store().resourceServers;
    const a = server();
    await registry.create(a);
    expect(await registry.delete(a.id)).toBe(true);
    expect(await registry.delete(a.id)).toBe(false);
    expect(await registry.lookup([a.audience])).toEqual({ total: 0, servers: [] });
    expect((await registry.list({ limit: 10 })).total).toBe(0);
    expect(await registry.create(server({ audience: a.audience }))).toBe("created");
  });

  it(`resource servers: at most ${maxResourceServers}; past it a create is refused and nothing changes`, async () => {
    const registry = store().resourceServers;
    for (let i = 0; i < maxResourceServers; i++) expect(await registry.create(server({ ms: t0 + i }))).toBe("created");
    const extra = server();
    expect(await registry.create(extra)).toBe("full");
    expect(await registry.lookup([extra.audience])).toEqual({ total: maxResourceServers, servers: [] });
  });

  it("clients: walk visits every organization's clients once", async () => {
    const clients = store().clients;
    const made = [newOrganizationId(), newOrganizationId()].flatMap((org) => [makeRecord(org), makeRecord(org)]);
    for (const record of made) await clients.create(record);
    const seen: string[] = [];
    await clients.walk((record) => seen.push(record.client?.clientId ?? ""));
    expect(seen.sort()).toEqual(made.map((record) => record.client?.clientId ?? "").sort());
  });
}
