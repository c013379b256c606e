import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { encodeRecord, indexMember } from "../../src/store/client-record-codec.js";
import { checkStore, type StoreCheckReport } from "../../src/ops/store-check.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { makeRecord, newClientId, newOrganizationId } from "../store/client-record-fixtures.js";
import { fillStore, type StoreFixture } from "./store-fixture.js";

// store:check over a real Redis: a store as the service writes it is clean; damage made with raw
// commands (as a crash, an eviction or a bug could leave it) is found, kind by kind; --repair
// fixes what is safe, never what needs judgement, and never acts on a record a writer changed.

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixtures: StoreFixture[] = [];
afterEach(async () => {
  for (const fixture of fixtures.splice(0)) await fixture.close();
});

async function filled(prefix = uniquePrefix()): Promise<StoreFixture & { organizations: string[]; prefix: string }> {
  const organizations = [newOrganizationId(), newOrganizationId()];
  const fixture = await fillStore({ kind: "single", url: testRedisUrl() }, prefix, organizations);
  fixtures.push(fixture);
  return { ...fixture, organizations, prefix };
}

const found = (report: StoreCheckReport): string[] => report.findings.map((finding) => `${finding.kind} ${finding.key}`).sort();
const entry = (kind: string, key: string): string => `${kind} ${key}`;

// Damage every repairable kind once; returns the findings the check must report.
async function damageSafely(f: StoreFixture & { organizations: string[] }): Promise<{ expected: string[]; orphanMember: string; danglingMembers: string[] }> {
  const { redis, layout, records } = f;
  const [orphan, moved, used] = records as [NonNullable<(typeof records)[0]>, NonNullable<(typeof records)[0]>, NonNullable<(typeof records)[0]>];
  const organization = f.organizations[0]!;
  const index = layout.organizationIndex(organization);
  // An orphan: the record without its index entry.
  const orphanMember = indexMember(orphan);
  await redis.zrem(index, orphanMember);
  // Dangling: an entry for a client that does not exist, and one whose record has another create time.
  const ghost = `000000000000001:${newClientId(organization)}`;
  const stale = indexMember(makeRecord(organization, { clientId: moved.client!.clientId, createMs: 1_000 }));
  await redis.zadd(index, 0, ghost, 0, stale);
  // Last-use times of a deleted secret, and of a deleted client.
  await redis.hset(layout.secretUse(used.client!.clientId), "sks_deleted", "123");
  const goneClient = newClientId(organization);
  await redis.hset(layout.secretUse(goneClient), "sks_x", "1");
  return {
    orphanMember,
    danglingMembers: [ghost, stale],
    expected: [
      entry("orphan-record", layout.client(orphan.client!.clientId)),
      entry("dangling-index-entry", index),
      entry("dangling-index-entry", index),
      entry("deleted-secret-usage", layout.secretUse(used.client!.clientId)),
      entry("deleted-client-usage", layout.secretUse(goneClient)),
    ].sort(),
  };
}

// Damage that needs judgement: never repaired.
async function damageBeyondRepair(f: StoreFixture & { prefix: string }): Promise<string[]> {
  const { redis, layout, records } = f;
  const garbled = records[3]!.client!.clientId;
  await redis.set(layout.client(garbled), Buffer.from([0xff, 0xff, 0xff]));
  const impostor = newClientId(records[4]!.client!.organizationId);
  await redis.set(layout.client(impostor), Buffer.from(encodeRecord(records[4]!)));
  const wrongType = newClientId(records[4]!.client!.organizationId);
  await redis.hset(layout.client(wrongType), "a", "b");
  await redis.set(`${f.prefix}stray`, "x");
  await redis.set(`${f.prefix}{aaaaaa}:client:${records[5]!.client!.clientId}`, "x");
  await redis.del(layout.state("secret-hash-key"));
  await redis.set(layout.state("signing-keys"), "not a key ring");
  // Another version's state is informational only.
  await redis.set(layout.state("future-state"), "x");
  return [
    entry("undecodable", layout.client(garbled)),
    entry("undecodable", layout.client(impostor)),
    entry("undecodable", layout.client(wrongType)),
    entry("unknown-key", `${f.prefix}stray`),
    entry("unknown-key", `${f.prefix}{aaaaaa}:client:${records[5]!.client!.clientId}`),
    entry("state-missing", layout.state("secret-hash-key")),
    entry("undecodable", layout.state("signing-keys")),
  ].sort();
}

describe("store:check", () => {
  it("reports nothing on a store as the service writes it, and counts what it walked", async () => {
    const f = await filled();
    // An idempotent create's kept answer is the service's own (it expires): a key walked, not a finding.
    await f.redis.set(f.layout.createRequest(f.records[0]!.client!.organizationId, "req-1"), "kept", "PX", 60_000);
    const report = await checkStore(f.redis, f.layout);
    expect(report.findings).toEqual([]);
    expect(report.masters).toBe(1);
    expect(report.counts).toEqual({ keys: 6 + 2 + 6 + 4 + 1, records: 6, indexes: 2, indexEntries: 6, secretUses: 6, stateValues: 4 });
  });

  it("finds each kind of damage", async () => {
    const f = await filled();
    const safe = await damageSafely(f);
    const beyond = await damageBeyondRepair(f);
    const report = await checkStore(f.redis, f.layout);
    expect(found(report)).toEqual([...safe.expected, ...beyond].sort());
    expect(report.findings.every((finding) => !finding.repaired)).toBe(true);
    expect(report.notes.join("\n")).toContain('"future-state"');
    // Checking changed nothing.
    expect(await f.redis.zscore(f.layout.organizationIndex(f.organizations[0]!), safe.orphanMember)).toBeNull();
  });

  it("--repair fixes the safe findings, and a second check is clean", async () => {
    const f = await filled();
    const safe = await damageSafely(f);
    const repaired = await checkStore(f.redis, f.layout, { repair: true });
    expect(found(repaired)).toEqual(safe.expected);
    expect(repaired.findings.every((finding) => finding.repaired)).toBe(true);
    expect((await checkStore(f.redis, f.layout)).findings).toEqual([]);
    // The organization lists all its clients again, and only them.
    const page = await f.store.clients.list(f.organizations[0]!, { limit: 10 });
    expect(page.records.map((record) => record.client!.clientId).sort()).toEqual(
      f.records
        .slice(0, 3)
        .map((record) => record.client!.clientId)
        .sort(),
    );
    expect(page.total).toBe(3);
  });

  it("leaves undecodable records, unknown keys and missing state alone, and reports them again", async () => {
    const f = await filled();
    const beyond = await damageBeyondRepair(f);
    const first = await checkStore(f.redis, f.layout, { repair: true });
    expect(found(first)).toEqual(beyond);
    expect(first.findings.some((finding) => finding.repaired)).toBe(false);
    expect(await f.redis.getBuffer(f.layout.client(f.records[3]!.client!.clientId))).toEqual(Buffer.from([0xff, 0xff, 0xff]));
    expect(await f.redis.get(`${f.prefix}stray`)).toBe("x");
    expect(found(await checkStore(f.redis, f.layout, { repair: true }))).toEqual(beyond);
  });

  it("judges each finding again against the record as it is now, so a writer racing the check is never undone", async () => {
    const f = await filled();
    const organization = f.organizations[0]!;
    const index = f.layout.organizationIndex(organization);
    const [deleted, updated] = f.records as [NonNullable<(typeof f.records)[0]>, NonNullable<(typeof f.records)[0]>];
    await f.redis.zrem(index, indexMember(deleted), indexMember(updated));
    const late = makeRecord(organization, { createMs: 1_000 });
    await f.redis.zadd(index, 0, indexMember(late));
    const reborn = makeRecord(organization);
    await f.redis.hset(f.layout.secretUse(reborn.client!.clientId), "sec_1", "1");
    const report = await checkStore(f.redis, f.layout, {
      repair: true,
      // Between the walk and the repairs: one orphan is deleted, the other updated; the client of
      // the dangling entry and of the leftover usage hash are created.
      async walked() {
        await f.redis.del(f.layout.client(deleted.client!.clientId));
        await f.store.clients.update(organization, updated.client!.clientId, (record) => ((record.client!.name = "renamed"), record));
        expect(await f.store.clients.create(late)).toBe(true);
        expect(await f.store.clients.create(reborn)).toBe(true);
      },
    });
    expect(found(report)).toEqual([entry("orphan-record", f.layout.client(updated.client!.clientId))]);
    expect(report.findings[0]!.repaired).toBe(true);
    expect(report.notes.join("\n")).toContain("3 suspected finding(s) cleared");
    // The deleted client got no index entry back; the new clients' entry and usage were kept.
    expect(await f.redis.zscore(index, indexMember(deleted))).toBeNull();
    expect(await f.redis.zscore(index, indexMember(late))).not.toBeNull();
    expect(await f.redis.hget(f.layout.secretUse(reborn.client!.clientId), "sec_1")).toBe("1");
  });

  it("runs as npm run store:check does: exit 0 clean, 1 with findings (--json for machines), 2 without Redis", async () => {
    const f = await filled();
    const env = { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: f.prefix };
    const clean = await runMain(env, []);
    expect(clean).toMatchObject({ code: 0 });
    expect(clean.stdout).toMatch(
      /" on 1 node: 18 keys — 6 records, 2 organization indexes \(6 entries\), 6 secret-use hashes, 4 state values\nclean: no findings\n$/,
    );
    await f.redis.zrem(f.layout.organizationIndex(f.organizations[0]!), indexMember(f.records[0]!));
    const damaged = await runMain(env, ["--json"]);
    expect(damaged.code).toBe(1);
    expect((JSON.parse(damaged.stdout) as { findings: unknown }).findings).toEqual([
      expect.objectContaining({ kind: "orphan-record", repaired: false, repair: "add the index entry" }),
    ]);
    const repaired = await runMain(env, ["--repair"]);
    expect(repaired.code).toBe(1);
    expect(repaired.stdout).toContain("FOUND orphan-record");
    expect(repaired.stdout).toContain("repair: add the index entry — done");
    expect(await runMain(env, [])).toMatchObject({ code: 0 });
    const memory = await runMain({}, []);
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain("no Redis is configured");
  }, 60_000);
});

function runMain(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/ops/store-check-main.ts", ...args], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}
