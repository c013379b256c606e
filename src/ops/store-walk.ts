import type { Redis } from "ioredis";
import { restoreCandidatesStateName } from "../state/restore-candidate.js";
import { decodeRecord, indexMember } from "../store/client-record-codec.js";
import { clientTag, organizationTag, type KeyLayout, type ParsedKey } from "../store/key-layout.js";
import { available } from "../store/redis-calls.js";
import { pingDeployment, type RedisClient } from "../store/redis-connection.js";
import { dataNodes } from "../store/redis-deployment.js";

// One pass over every key under the prefix: SCAN on each node that holds data (every master of a
// Cluster), reading the keys each batch names in one pipeline to that node. Records are decoded
// here and only what the cross-checks need is kept, so memory grows with the ids, not the bytes.

const scanCount = 1_000;

/** SeenRecord is a client record as the walk read it: its place, or why it cannot be used. */
export type SeenRecord =
  | { readonly key: string; readonly organizationId: string; readonly member: string; readonly secretIds: ReadonlySet<string> }
  | { readonly key: string; readonly problem: string };

/** WalkedStore is everything under the prefix, by kind; ids are the ones the keys name. */
export interface WalkedStore {
  /** masters is how many nodes were walked (1 unless a Cluster). */
  masters: number;
  keys: number;
  records: Map<string, SeenRecord>;
  /** indexes maps an organization id to its index key and members. */
  indexes: Map<string, { key: string; members: string[] }>;
  /** uses maps a client id to its secret-use hash key and the secret ids it holds. */
  uses: Map<string, { key: string; secretIds: string[] }>;
  /** state maps a state name to its key and value. */
  state: Map<string, { key: string; value: Buffer }>;
  /** unreadable are keys of a known kind holding another Redis type (e.g. a hash where a record belongs). */
  unreadable: { key: string; problem: string }[];
  /** unknown are keys under the prefix the layout never names. */
  unknown: string[];
  /** createRequests counts idempotent creates' kept answers: they expire by themselves, nothing to check. */
  createRequests: number;
  /** revokedTokens says whether the deny list (RFC 7009) exists: its entries end by themselves, nothing to check. */
  revokedTokens: boolean;
  /** restoreOffers is true when running instances offered their copy of a lost issuer state (store:init --restore reads it). */
  restoreOffers: boolean;
}

/** judgeRecord reads a record stored under `key` (named for `clientId`): its place, or why it cannot be used. */
export function judgeRecord(key: string, clientId: string, bytes: Buffer): SeenRecord {
  let record;
  try {
    record = decodeRecord(bytes);
  } catch (err) {
    return { key, problem: `cannot be decoded as a ClientRecord (${(err as Error).message})` };
  }
  const id = record.client?.clientId ?? "";
  const organizationId = record.client?.organizationId ?? "";
  if (id !== clientId) return { key, problem: `holds client "${id}", not the "${clientId}" its key names` };
  if (organizationId !== "" && organizationTag(organizationId) !== clientTag(clientId)) {
    return { key, problem: `belongs to organization "${organizationId}", whose hash tag its key does not carry` };
  }
  return { key, organizationId, member: indexMember(record), secretIds: new Set(record.secretHashes.map((hash) => hash.secretId)) };
}

function addValue(walked: WalkedStore, key: string, parsed: ParsedKey, value: unknown): void {
  switch (parsed.kind) {
    case "client":
      if (value !== null) walked.records.set(parsed.clientId, judgeRecord(key, parsed.clientId, value as Buffer));
      return;
    case "secret-use":
      walked.uses.set(parsed.clientId, { key, secretIds: Object.keys(value as Record<string, string>) });
      return;
    case "organization-index":
      walked.indexes.set(parsed.organizationId, { key, members: value as string[] });
      return;
    case "state":
      if (value !== null) walked.state.set(parsed.name, { key, value: value as Buffer });
      return;
    case "create-request":
    case "assertion-use":
    case "revoked-tokens":
    case "revoked-by":
    case "auth-failures":
    case "resource-servers":
      return;
  }
}

async function readBatch(node: Redis, layout: KeyLayout, keys: readonly string[], walked: WalkedStore): Promise<void> {
  const known: [string, ParsedKey][] = [];
  const pipeline = node.pipeline();
  for (const key of keys) {
    const parsed = layout.parse(key);
    if (parsed === undefined) {
      walked.unknown.push(key);
      continue;
    }
    if (parsed.kind === "create-request") {
      walked.createRequests++;
      continue;
    }
    // A used client assertion's mark: it expires by itself and vouches for nothing else.
    if (parsed.kind === "assertion-use") continue;
    // Failed authentications' counts (tokens/auth-throttle.ts): they expire by themselves.
    if (parsed.kind === "auth-failures") continue;
    if (parsed.kind === "revoked-tokens") {
      walked.revokedTokens = true;
      continue;
    }
    // An organization's share of the deny list: it expires with its last entry, as the list does.
    if (parsed.kind === "revoked-by") continue;
    // The registry of resource servers: its own keys, which no client record vouches for.
    if (parsed.kind === "resource-servers") continue;
    // A hash of instances' offers (state/restore-candidate.ts), not a state value.
    if (parsed.kind === "state" && parsed.name === restoreCandidatesStateName) {
      walked.restoreOffers = true;
      continue;
    }
    known.push([key, parsed]);
    if (parsed.kind === "secret-use") pipeline.hgetall(key);
    else if (parsed.kind === "organization-index") pipeline.zrange(key, "0", "-1");
    else pipeline.getBuffer(key);
  }
  if (known.length === 0) return;
  const replies = (await pipeline.exec()) ?? [];
  known.forEach(([key, parsed], i) => {
    const [err, value] = replies[i] ?? [new Error("no reply"), null];
    if (err) {
      if (!err.message.startsWith("WRONGTYPE")) throw err;
      walked.unreadable.push({ key, problem: `holds another Redis type than a ${parsed.kind} key does` });
      return;
    }
    addValue(walked, key, parsed, value);
  });
}

/** walkStore reads every key under the layout's prefix on every master; it throws when a node cannot be read. */
export async function walkStore(redis: RedisClient, layout: KeyLayout): Promise<WalkedStore> {
  // Connected first (a Cluster learns its masters and slots as it connects), every master answering.
  await available(redis, () => pingDeployment(redis));
  const nodes = dataNodes(redis);
  const walked: WalkedStore = {
    masters: nodes.length,
    keys: 0,
    records: new Map(),
    indexes: new Map(),
    uses: new Map(),
    state: new Map(),
    unreadable: [],
    unknown: [],
    createRequests: 0,
    revokedTokens: false,
    restoreOffers: false,
  };
  for (const node of nodes) {
    // SCAN may return a key twice (its guarantee is only that every key present throughout is returned).
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", layout.match, "COUNT", scanCount);
      cursor = next;
      const fresh = batch.filter((key) => !seen.has(key));
      for (const key of fresh) seen.add(key);
      await readBatch(node, layout, fresh, walked);
    } while (cursor !== "0");
    walked.keys += seen.size;
  }
  return walked;
}
