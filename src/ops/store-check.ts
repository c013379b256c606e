import { memberClientId } from "../store/client-record-codec.js";
import { clientTag, organizationTag, type KeyLayout } from "../store/key-layout.js";
import type { RedisClient } from "../store/redis-connection.js";
import { issuerStateNames, judgeState } from "./state-check.js";
import { defineRepairScripts, type RepairScripts } from "./store-repair-scripts.js";
import { judgeRecord, walkStore, type WalkedStore } from "./store-walk.js";

// store:check: walk every key under the prefix, cross-check records, indexes and secret-use
// hashes, check the issuer's state, and (with `repair`) fix what can be fixed without judgement.
// The service may be writing meanwhile: a suspected finding is confirmed (and repaired) only by a
// script that sees the record unchanged (store-repair-scripts.ts), so a live writer can make the
// check miss damage that appears during it, never report or "repair" damage that is not there.

// A record changing at each re-check is read again this many times before the finding is given up on.
const settleAttempts = 3;

/** FindingKind names a kind of damage. */
export type FindingKind =
  "orphan-record" | "dangling-index-entry" | "deleted-secret-usage" | "deleted-client-usage" | "undecodable" | "unknown-key" | "state-missing";

/** Finding is one piece of damage: where, what, and what a repair does (undefined: never repaired automatically). */
export interface Finding {
  kind: FindingKind;
  key: string;
  detail: string;
  repair?: string;
  repaired: boolean;
}

/** StoreCheckReport is what a check saw and found. */
export interface StoreCheckReport {
  prefix: string;
  /** masters is how many Redis nodes were walked (every master of a Cluster). */
  masters: number;
  counts: { keys: number; records: number; indexes: number; indexEntries: number; secretUses: number; stateValues: number };
  findings: Finding[];
  /** notes are informational: not findings, never a failure. */
  notes: string[];
}

/** StoreCheckOptions configures checkStore. */
export interface StoreCheckOptions {
  /** repair fixes the findings that are safe to fix (never undecodable records, unknown keys or missing state). */
  repair?: boolean;
  /** expectedState are the state names that must exist (default: key ring, secret-hash key, admin). */
  expectedState?: readonly string[];
  /** walked is called between the walk and the re-checks (tests race a writer there). */
  walked?: () => Promise<void>;
}

// A suspected finding and how to judge it against the record as it is now: undefined when it no
// longer holds, else a script call (>0 holds, 0 no longer holds, -1 record changed: read again).
interface Suspect {
  finding: Omit<Finding, "repaired">;
  recordKey: string;
  judge(bytes: Buffer | null): ((repair: boolean) => Promise<number>) | undefined;
}

function suspects(walked: WalkedStore, layout: KeyLayout, scripts: RepairScripts): Suspect[] {
  const found: Suspect[] = [];
  const indexed = new Map([...walked.indexes].map(([organizationId, { members }]) => [organizationId, new Set(members)]));

  for (const [clientId, seen] of walked.records) {
    if ("problem" in seen || seen.organizationId === "" || indexed.get(seen.organizationId)?.has(seen.member)) continue;
    const indexKey = layout.organizationIndex(seen.organizationId);
    found.push({
      finding: {
        kind: "orphan-record",
        key: seen.key,
        detail: `client ${clientId} is missing from its organization's index ${indexKey}`,
        repair: "add the index entry",
      },
      recordKey: seen.key,
      judge(bytes) {
        const now = bytes === null ? undefined : judgeRecord(seen.key, clientId, bytes);
        if (now === undefined || "problem" in now || now.organizationId === "") return undefined;
        return (repair) =>
          scripts.addIndexEntry(seen.key, layout.organizationIndex(now.organizationId), { record: "present", bytes: bytes as Buffer }, now.member, repair);
      },
    });
  }

  for (const [organizationId, index] of walked.indexes) {
    for (const member of index.members) {
      const clientId = memberClientId(member);
      const recordKey = layout.client(clientId);
      const seen = walked.records.get(clientId);
      if (seen !== undefined && ("problem" in seen || (seen.organizationId === organizationId && seen.member === member))) continue;
      const why =
        seen === undefined
          ? "does not exist"
          : seen.organizationId !== organizationId
            ? `belongs to organization "${seen.organizationId}"`
            : `is indexed as ${seen.member}`;
      // The store never indexes a client whose id lacks its organization's tag: such an entry is wrong whatever the record.
      const neverValid = clientTag(clientId) !== organizationTag(organizationId);
      found.push({
        finding: {
          kind: "dangling-index-entry",
          key: index.key,
          detail: `index entry ${member}: client ${clientId}'s record ${why}`,
          repair: "remove the index entry",
        },
        recordKey,
        judge(bytes) {
          const remove = (expected: Parameters<RepairScripts["removeIndexEntry"]>[2]) => (repair: boolean) =>
            scripts.removeIndexEntry(recordKey, index.key, expected, member, repair);
          if (neverValid) return remove({ record: "any" });
          if (bytes === null) return remove({ record: "absent" });
          const now = judgeRecord(recordKey, clientId, bytes);
          if ("problem" in now || (now.organizationId === organizationId && now.member === member)) return undefined;
          return remove({ record: "present", bytes });
        },
      });
    }
  }

  for (const [clientId, use] of walked.uses) {
    const seen = walked.records.get(clientId);
    const recordKey = layout.client(clientId);
    if (seen === undefined) {
      found.push({
        finding: {
          kind: "deleted-client-usage",
          key: use.key,
          detail: `secret-use hash of client ${clientId}, whose record does not exist`,
          repair: "delete the hash",
        },
        recordKey,
        judge: (bytes) => (bytes === null ? (repair) => scripts.removeUseHash(recordKey, use.key, { record: "absent" }, repair) : undefined),
      });
      continue;
    }
    if ("problem" in seen) continue;
    const stale = use.secretIds.filter((secretId) => !seen.secretIds.has(secretId));
    if (stale.length === 0) continue;
    found.push({
      finding: {
        kind: "deleted-secret-usage",
        key: use.key,
        detail: `client ${clientId} has no secret ${stale.join(", ")} but their last-use times remain`,
        repair: "remove those fields",
      },
      recordKey,
      judge(bytes) {
        const now = bytes === null ? undefined : judgeRecord(recordKey, clientId, bytes);
        if (now === undefined || "problem" in now) return undefined;
        const still = stale.filter((secretId) => !now.secretIds.has(secretId));
        return still.length === 0
          ? undefined
          : (repair) => scripts.removeUseFields(recordKey, use.key, { record: "present", bytes: bytes as Buffer }, still, repair);
      },
    });
  }
  return found;
}

// Judges a suspect again on a fresh read until it holds, clears, or has changed too often.
async function settle(redis: RedisClient, suspect: Suspect, repair: boolean): Promise<"holds" | "repaired" | "cleared" | "unsettled"> {
  for (let attempt = 0; attempt < settleAttempts; attempt++) {
    const run = suspect.judge(await redis.getBuffer(suspect.recordKey));
    if (run === undefined) return "cleared";
    const result = await run(repair);
    if (result > 0) return repair ? "repaired" : "holds";
    if (result === 0) return "cleared";
  }
  return "unsettled";
}

/** checkStore walks the store under `layout` on `redis`, reports what is inconsistent and, with `repair`, fixes what is safe. */
export async function checkStore(redis: RedisClient, layout: KeyLayout, options: StoreCheckOptions = {}): Promise<StoreCheckReport> {
  const repair = options.repair ?? false;
  const scripts = defineRepairScripts(redis);
  const walked = await walkStore(redis, layout);
  await options.walked?.();
  const findings: Finding[] = [];
  const notes: string[] = [];

  let cleared = 0;
  for (const suspect of suspects(walked, layout, scripts)) {
    const outcome = await settle(redis, suspect, repair);
    if (outcome === "cleared") cleared++;
    else if (outcome === "unsettled")
      findings.push({ ...suspect.finding, detail: `${suspect.finding.detail} (kept changing while checked: check again)`, repaired: false });
    else findings.push({ ...suspect.finding, repaired: outcome === "repaired" });
  }
  if (cleared > 0) notes.push(`${cleared} suspected finding(s) cleared on re-check: the service changed those records meanwhile`);

  const left = (kind: FindingKind, key: string, detail: string) => findings.push({ kind, key, detail, repaired: false });
  for (const [, seen] of walked.records) if ("problem" in seen) left("undecodable", seen.key, `record ${seen.problem}`);
  for (const { key, problem } of walked.unreadable) left("undecodable", key, problem);
  for (const key of walked.unknown) left("unknown-key", key, "not a key m2m-auth writes (another application's or version's?)");
  for (const [name, { key, value }] of walked.state) {
    const judged = judgeState(name, value);
    if (judged === undefined) continue;
    if ("note" in judged) notes.push(judged.note);
    else left("undecodable", key, `state value "${name}" ${judged.problem}`);
  }
  for (const name of options.expectedState ?? issuerStateNames) {
    if (!walked.state.has(name))
      left("state-missing", layout.state(name), `state value "${name}" is missing (see docs/reliability.md: restore, or initialize a fresh prefix)`);
  }
  if (walked.restoreOffers) notes.push("running instances offered their copy of a lost issuer state: npm run store:init -- --status, then --restore");
  if (walked.keys === 0) notes.push(`no key starts with "${layout.prefix}": is M2M_KEY_PREFIX right, and has the service run on this Redis?`);

  const indexEntries = [...walked.indexes.values()].reduce((sum, index) => sum + index.members.length, 0);
  return {
    prefix: layout.prefix,
    masters: walked.masters,
    counts: {
      keys: walked.keys,
      records: walked.records.size,
      indexes: walked.indexes.size,
      indexEntries,
      secretUses: walked.uses.size,
      stateValues: walked.state.size,
    },
    findings,
    notes,
  };
}
