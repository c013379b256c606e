import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkStore } from "../../src/ops/store-check.js";
import { indexMember } from "../../src/store/client-record-codec.js";
import { createKeyLayout, organizationTag } from "../../src/store/key-layout.js";
import { available } from "../../src/store/redis-calls.js";
import { createRedisConnection, pingDeployment } from "../../src/store/redis-connection.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { uniquePrefix } from "../support/redis.js";
import { newOrganizationId } from "../store/client-record-fixtures.js";
import { fillStore } from "./store-fixture.js";

// On a 3-master Cluster each master holds its own slots' keys, and SCAN on one node sees only
// those: damage placed on every master must all be found, so the check walked every master.

let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

// One organization per master: drawn until their index keys' slots cover every master.
async function organizationPerMaster(prefix: string): Promise<string[]> {
  const redis = createRedisConnection(cluster.connection) as Cluster;
  try {
    await available(redis, () => pingDeployment(redis));
    const layout = createKeyLayout(prefix);
    const byMaster = new Map<string, string>();
    for (let tries = 0; byMaster.size < 3 && tries < 200; tries++) {
      const organizationId = newOrganizationId();
      const slot = Number(await redis.cluster("KEYSLOT", layout.organizationIndex(organizationId)));
      const master = redis.slots[slot]?.[0];
      if (master !== undefined && !byMaster.has(master)) byMaster.set(master, organizationId);
    }
    if (byMaster.size < 3) throw new Error(`organizations reached only ${byMaster.size} masters in 200 draws`);
    return [...byMaster.values()];
  } finally {
    redis.disconnect();
  }
}

describe("store:check on a Redis Cluster", () => {
  it("walks every master: damage on each is found, repaired, and a second check shows only what needs judgement", async () => {
    const prefix = uniquePrefix();
    const organizations = await organizationPerMaster(prefix);
    const f = await fillStore(cluster.connection, prefix, organizations, 2);
    try {
      const expected: string[] = [];
      const unknown: string[] = [];
      for (const organizationId of organizations) {
        const record = f.records.find((r) => r.client!.organizationId === organizationId)!;
        await f.redis.zrem(f.layout.organizationIndex(organizationId), indexMember(record));
        expected.push(`orphan-record ${f.layout.client(record.client!.clientId)}`);
        const stray = `${prefix}{${organizationTag(organizationId)}}:stray`;
        await f.redis.set(stray, "x");
        unknown.push(`unknown-key ${stray}`);
      }
      const report = await checkStore(f.redis, f.layout, { repair: true });
      expect(report.masters).toBe(3);
      expect(report.counts).toMatchObject({ records: 6, indexes: 3, indexEntries: 3, secretUses: 6, stateValues: 4 });
      expect(report.findings.map((finding) => `${finding.kind} ${finding.key}`).sort()).toEqual([...expected, ...unknown].sort());
      expect(report.findings.filter((finding) => finding.repaired)).toHaveLength(3);
      const second = await checkStore(f.redis, f.layout);
      expect(second.findings.map((finding) => `${finding.kind} ${finding.key}`).sort()).toEqual(unknown.sort());
      expect(second.counts.indexEntries).toBe(6);
    } finally {
      await f.close();
    }
  }, 60_000);
});
