import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { UnavailableError } from "../../src/errors.js";
import { createClientRecordCache } from "../../src/store/client-record-cache.js";
import { encodeRecord } from "../../src/store/client-record-codec.js";
import type { Store } from "../../src/store/client-store.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { freePort } from "../support/redis-process.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { uniquePrefix } from "../support/redis.js";
import { makeRecord, newOrganizationId } from "./client-record-fixtures.js";
import { describeClientStoreContract } from "./client-store-contract.js";

// The store on a 3-master Redis Cluster: the whole contract, and what only a Cluster can break
// (keys of one call on different slots or nodes), and a Cluster lost and back.

let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describeClientStoreContract("redis cluster store", async () => createRedisStore({ connection: cluster.connection, keyPrefix: uniquePrefix() }));

describe("redis cluster store", () => {
  let raw: Cluster;
  beforeAll(() => {
    raw = new Cluster([...cluster.nodes]);
    // The last test stops the Cluster; this client's reconnect errors are expected then.
    raw.on("error", () => {});
  });
  afterAll(async () => {
    await raw?.quit();
  });

  /** portOfSlot is the port of the master serving `slot`. */
  async function portOfSlot(slot: number): Promise<number> {
    const range = (await raw.cluster("SLOTS")).find(([start, end]) => start <= slot && slot <= end);
    const port = range?.[2]?.[1];
    if (port === undefined) throw new Error(`no master serves slot ${slot}`);
    return port;
  }

  it("records and reads secret use of clients of many organizations, on every master, in one call", async () => {
    const prefix = uniquePrefix();
    const store = createRedisStore({ connection: cluster.connection, keyPrefix: prefix });
    const layout = createKeyLayout(prefix);
    // Organizations (random, so on random masters) until every master serves some of them.
    const ids: string[] = [];
    const perMaster = new Map<number, number>();
    while (ids.length < 200 && (perMaster.size < 3 || Math.min(...perMaster.values()) < 4)) {
      const record = makeRecord(newOrganizationId(), { secretIds: ["sec_1", "sec_2"] });
      expect(await store.clients.create(record)).toBe(true);
      const id = record.client?.clientId ?? "";
      ids.push(id);
      const port = await portOfSlot(Number(await raw.cluster("KEYSLOT", layout.secretUse(id))));
      perMaster.set(port, (perMaster.get(port) ?? 0) + 1);
    }
    expect([...perMaster.keys()].sort()).toEqual(cluster.nodes.map((node) => node.port).sort());

    const uses = ids.flatMap((clientId, i) => [1, 2].map((n) => ({ clientId, secretId: `sec_${n}`, timeMs: 1_000 * i + n })));
    await store.clients.recordSecretUse(uses);
    const times = await store.clients.secretUse(ids);
    expect(times.size).toBe(ids.length);
    ids.forEach((id, i) =>
      expect(times.get(id)).toEqual(
        new Map([
          ["sec_1", 1_000 * i + 1],
          ["sec_2", 1_000 * i + 2],
        ]),
      ),
    );
    await store.close();
  });

  it("reads every master's eviction policy, and finds a key on whichever master holds it", async () => {
    const store = createRedisStore({ connection: cluster.connection, keyPrefix: uniquePrefix() });
    try {
      expect(await store.evictionPolicies?.()).toEqual(["noeviction"]);
      const [master] = raw.nodes("master");
      await master!.config("SET", "maxmemory-policy", "allkeys-lru");
      try {
        expect((await store.evictionPolicies?.())?.sort()).toEqual(["allkeys-lru", "noeviction"]);
      } finally {
        await master!.config("SET", "maxmemory-policy", "noeviction");
      }
      expect(await store.empty()).toBe(true);
      // A client record alone (no state value) lands on a random master: it still counts.
      expect(await store.clients.create(makeRecord(newOrganizationId()))).toBe(true);
      expect(await store.empty()).toBe(false);
    } finally {
      await store.close();
    }
  });

  it("keeps an organization's records, secret use and index in one slot", async () => {
    const prefix = uniquePrefix();
    const store = createRedisStore({ connection: cluster.connection, keyPrefix: prefix });
    const layout = createKeyLayout(prefix);
    const org = newOrganizationId();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const record = makeRecord(org);
      await store.clients.create(record);
      ids.push(record.client?.clientId ?? "");
    }
    await store.clients.recordSecretUse(ids.map((clientId) => ({ clientId, secretId: "sec_1", timeMs: 1 })));
    const keys = [layout.organizationIndex(org), ...ids.flatMap((id) => [layout.client(id), layout.secretUse(id)])];
    const slot = Number(await raw.cluster("KEYSLOT", layout.organizationIndex(org)));
    const port = await portOfSlot(slot);
    const owner = raw.nodes("master").find((node) => node.options.port === port);
    const inSlot = (await owner?.cluster("GETKEYSINSLOT", slot, 1_000)) as string[];
    expect(inSlot.filter((key) => key.startsWith(prefix)).sort()).toEqual(keys.sort());
    expect((await store.clients.list(org, { limit: 10 })).records).toHaveLength(5);
    await store.close();
  });

  it("keeps the token path's record cache fresh across masters: writes on any slot reach it through the cluster bus", async () => {
    const prefix = uniquePrefix();
    const layout = createKeyLayout(prefix);
    const mine = createRedisStore({ connection: cluster.connection, keyPrefix: prefix });
    const other = createRedisStore({ connection: cluster.connection, keyPrefix: prefix });
    const cache = createClientRecordCache({ store: mine.clients, changes: mine.changes!, maxAgeMs: 1_000 });
    try {
      // Organizations until every master holds one, so announcements come from each of them.
      const records: ClientRecord[] = [];
      const ports = new Set<number>();
      while (ports.size < 3) {
        const record = makeRecord(newOrganizationId());
        await other.clients.create(record);
        records.push(record);
        ports.add(await portOfSlot(Number(await raw.cluster("KEYSLOT", layout.client(record.client!.clientId)))));
      }
      // Once the cache is live, a change made behind its back stays hidden until its copy ages out.
      const probe = records[0]!;
      const probeId = probe.client!.clientId;
      const hidden = structuredClone(probe);
      hidden.client!.name = "hidden";
      for (let live = false, start = Date.now(); !live;) {
        if (Date.now() - start > 5_000) throw new Error("the cache never went live on the Cluster");
        await cache.get(probeId);
        await raw.set(layout.client(probeId), Buffer.from(encodeRecord(hidden)));
        live = (await cache.get(probeId))?.client?.name === probe.client?.name;
        await raw.set(layout.client(probeId), Buffer.from(encodeRecord(probe)));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const record of records) {
        const { clientId, organizationId } = record.client!;
        await cache.get(clientId);
        await other.clients.delete(organizationId, clientId);
        const start = Date.now();
        while ((await cache.get(clientId)) !== undefined) {
          if (Date.now() - start > 900) throw new Error(`the delete of ${clientId} did not reach the cache through pub/sub`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    } finally {
      await cache.close();
      await mine.close();
      await other.close();
    }
  });

  it("fails fast with UnavailableError when no node is reachable", async () => {
    const nodes = [{ host: "127.0.0.1", port: await freePort() }];
    const store = createRedisStore({ connection: { kind: "cluster", nodes }, keyPrefix: uniquePrefix() });
    const started = Date.now();
    await expect(store.clients.get("anything")).rejects.toBeInstanceOf(UnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(2_500);
    await store.close();
  });

  // Last: it stops the whole Cluster and starts it again, empty (nothing is saved).
  it("fails fast while the whole Cluster is down, and recovers by itself when it is back", async () => {
    const store: Store = createRedisStore({ connection: cluster.connection, keyPrefix: uniquePrefix() });
    const org = newOrganizationId();
    const record = makeRecord(org);
    await store.clients.create(record);
    const clientId = record.client?.clientId ?? "";
    await cluster.stopNodes();

    const started = Date.now();
    const results = await Promise.allSettled([
      store.clients.get(clientId),
      store.clients.list(org, { limit: 5 }),
      store.clients.recordSecretUse([{ clientId, secretId: "sec_1", timeMs: 1 }]),
      store.clients.secretUse([clientId]),
      store.state.put("k", new Uint8Array([1])),
      store.ping(),
    ]);
    for (const result of results) expect(result.status === "rejected" && result.reason instanceof UnavailableError).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_500);
    const again = Date.now();
    await expect(store.clients.get(clientId)).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - again).toBeLessThan(2_500);

    await cluster.startNodes();
    const back = Date.now();
    let answered = false;
    while (!answered && Date.now() - back < 10_000) {
      answered = await store.ping().then(
        () => true,
        () => false,
      );
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answered).toBe(true);
    const fresh = makeRecord(org);
    expect(await store.clients.create(fresh)).toBe(true);
    expect((await store.clients.get(fresh.client?.clientId ?? ""))?.client?.name).toBe(fresh.client?.name);
    await store.close();
  });
});
