import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { ClientPage, ClientStore, SecretUseTimes } from "./client-store.js";
import {
  checkCreateRequest,
  checkLimit,
  compareBytes,
  decodeRecord,
  encodeRecord,
  indexMember,
  memberClientId,
  checkSameIdentity,
  holdsSecret,
  recordIds,
  removedSecretIds,
} from "./client-record-codec.js";

// The memory backend's client records (see memory-store.ts): the same bytes and index members as
// redis-client-store.ts, so what passes here behaves the same against Redis.

/** firstAfter is the position of the first member of sorted `members` greater than `cursor`. */
function firstAfter(members: string[], cursor: string): number {
  let low = 0;
  let high = members.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareBytes(members[mid] ?? "", cursor) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** createMemoryClientStore keeps client records and their organization indexes in memory, with the Redis backend's bytes and members. */
export function createMemoryClientStore(assertOpen: () => void, now: () => number): ClientStore & { readonly size: () => number } {
  const records = new Map<string, Uint8Array>();
  const uses = new Map<string, Map<string, number>>();
  // Each organization's index: its members sorted by bytes, as a Redis sorted set with score 0.
  const indexes = new Map<string, string[]>();
  // Idempotent creates' kept answers, by organization and request key; they expire as in Redis.
  const requests = new Map<string, { bytes: Uint8Array; until: number }>();
  // One-time ids used (client assertions' jti), by client and id, until they expire as in Redis.
  const usedIds = new Map<string, number>();
  const minSweepAt = 1024;
  let sweepAt = minSweepAt;
  const dropExpiredIds = (at: number): void => {
    for (const [name, until] of usedIds) if (until <= at) usedIds.delete(name);
  };

  // Writes the record and its index entry; false if the id is taken. Synchronous, so a create
  // is one step, as a Redis script is.
  function insert(record: ClientRecord): boolean {
    const { clientId, organizationId } = recordIds(record);
    if (records.has(clientId)) return false;
    records.set(clientId, encodeRecord(record));
    // A system client (no organization, e.g. the bootstrap admin) belongs to no organization's
    // list; in Redis its key may not share a slot with any index, so it is never indexed.
    if (organizationId !== "") {
      const members = indexes.get(organizationId) ?? [];
      const member = indexMember(record);
      members.splice(firstAfter(members, member), 0, member);
      indexes.set(organizationId, members);
    }
    return true;
  }

  return {
    size: () => (dropExpiredIds(now()), records.size + usedIds.size),
    async create(record: ClientRecord): Promise<boolean> {
      assertOpen();
      return insert(record);
    },

    async createOnce(record, request) {
      assertOpen();
      const { organizationId } = recordIds(record);
      checkCreateRequest(organizationId, request);
      const at = now();
      for (const [name, kept] of requests) if (kept.until <= at) requests.delete(name);
      const name = `${organizationId}\n${request.key}`;
      const kept = requests.get(name);
      if (kept !== undefined) return { created: false, earlier: new Uint8Array(kept.bytes) };
      if (!insert(record)) return { created: false, earlier: undefined };
      requests.set(name, { bytes: new Uint8Array(request.bytes), until: at + request.ttlMs });
      return { created: true };
    },

    async get(clientId: string): Promise<ClientRecord | undefined> {
      assertOpen();
      const bytes = records.get(clientId);
      return bytes === undefined ? undefined : decodeRecord(bytes);
    },

    async list(organizationId: string, options: { limit: number; cursor?: string }): Promise<ClientPage> {
      assertOpen();
      checkLimit(options.limit);
      const members = indexes.get(organizationId) ?? [];
      const start = options.cursor ? firstAfter(members, options.cursor) : 0;
      const page = members.slice(start, start + options.limit);
      const found: ClientRecord[] = [];
      for (const member of page) {
        const bytes = records.get(memberClientId(member));
        if (bytes !== undefined) found.push(decodeRecord(bytes));
      }
      const more = start + options.limit < members.length;
      return { records: found, total: members.length, cursor: more ? page[page.length - 1] : undefined };
    },

    async delete(organizationId: string, clientId: string): Promise<boolean> {
      assertOpen();
      const bytes = records.get(clientId);
      if (bytes === undefined || organizationId === "") return false;
      const members = indexes.get(organizationId);
      const position = members?.indexOf(indexMember(decodeRecord(bytes))) ?? -1;
      if (members === undefined || position < 0) return false;
      members.splice(position, 1);
      if (members.length === 0) indexes.delete(organizationId);
      records.delete(clientId);
      uses.delete(clientId);
      return true;
    },

    async update(organizationId, clientId, change) {
      assertOpen();
      const bytes = records.get(clientId);
      if (bytes === undefined) return undefined;
      const current = decodeRecord(bytes);
      if (organizationId === "" || current.client?.organizationId !== organizationId) return undefined;
      // change gets a copy of its own: changed in place, `current` itself would pass the check.
      const next = change(decodeRecord(bytes));
      checkSameIdentity(current, next);
      records.set(clientId, encodeRecord(next));
      // A removed secret's use time goes with it, in the same step, as in Redis.
      const times = uses.get(clientId);
      for (const secretId of removedSecretIds(current, next)) times?.delete(secretId);
      if (times?.size === 0) uses.delete(clientId);
      return decodeRecord(records.get(clientId) as Uint8Array);
    },

    async recordSecretUse(entries) {
      assertOpen();
      for (const { clientId, secretId, timeMs } of entries) {
        const bytes = records.get(clientId);
        // Dropped for a client or secret deleted meanwhile, as in Redis.
        if (bytes === undefined || !holdsSecret(decodeRecord(bytes), secretId)) continue;
        const times = uses.get(clientId) ?? new Map<string, number>();
        if ((times.get(secretId) ?? 0) < timeMs) times.set(secretId, timeMs);
        uses.set(clientId, times);
      }
    },

    async secretUse(clientIds) {
      assertOpen();
      const result: SecretUseTimes = new Map();
      for (const id of clientIds) {
        const times = uses.get(id);
        if (times !== undefined) result.set(id, new Map(times));
      }
      return result;
    },

    async walk(visit) {
      assertOpen();
      for (const bytes of [...records.values()]) visit(decodeRecord(bytes));
    },

    async useOnce(clientId, id, ttlMs) {
      assertOpen();
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new TypeError("useOnce: ttlMs must be a positive integer");
      const at = now();
      const name = `${clientId}\n${id}`;
      const until = usedIds.get(name);
      if (until !== undefined && until > at) return false;
      // Expired marks are swept when the table has doubled, not on every use: one use stays O(1).
      if (usedIds.size >= sweepAt) {
        dropExpiredIds(at);
        sweepAt = Math.max(minSweepAt, usedIds.size * 2);
      }
      usedIds.set(name, at + ttlMs);
      return true;
    },
  };
}
