import type { RedisClient } from "./redis-connection.js";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { UnavailableError } from "../errors.js";
import type { ClientPage, ClientStore, SecretUseTimes } from "./client-store.js";
import {
  checkCreateRequest,
  checkLimit,
  checkSameIdentity,
  decodeRecord,
  encodeRecord,
  indexMember,
  memberClientId,
  recordIds,
  removedSecretIds,
} from "./client-record-codec.js";
import { assertionIdDigest, clientTag, organizationTag, type KeyLayout } from "./key-layout.js";
import { available, execPipeline, execPipelinesBySlot, toBuffer } from "./redis-calls.js";
import { dataNodes } from "./redis-deployment.js";
import type { StoreScripts } from "./redis-scripts.js";

// A delete reads the record, then deletes it only if it is unchanged; a record changed in
// between is read again, a few times at most.
const deleteAttempts = 3;
// An update reads, changes and writes back only if the record is unchanged. Updates from this
// process are queued per client (below), so only other processes' writes conflict: a few
// attempts, a short random pause apart so two writers fall out of step, then UnavailableError.
const updateAttempts = 5;
const conflictPauseMs = 5;
// How many keys a walk asks each SCAN for, and reads in one pipeline.
const walkBatch = 1_000;

/** createKeyedQueue returns a runner that runs the tasks of one key one after another, in call order. */
function createKeyedQueue(): <T>(key: string, task: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return (key, task) => {
    const result = (tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return result;
  };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * createRedisClientStore returns the ClientStore over `redis`, with `scripts` defined on it;
 * `wrote` hears of each record this process changed or deleted, once Redis has applied it.
 */
export function createRedisClientStore(
  redis: RedisClient,
  layout: KeyLayout,
  scripts: StoreScripts,
  wrote: (clientId: string) => void = () => {},
): ClientStore {
  const queued = createKeyedQueue();
  return {
    // One round trip: the create script (two when the id does not carry its organization's tag).
    async create(record: ClientRecord): Promise<boolean> {
      const { clientId, organizationId } = recordIds(record);
      const recordKey = layout.client(clientId);
      // System clients (no organization, e.g. the bootstrap admin) are not organization clients,
      // so no list shows them; their ids carry no organization's hash tag, so their key may not
      // share a slot with any index either.
      if (organizationId === "") return (await available(redis, () => scripts.create([recordKey], toBuffer(encodeRecord(record)), ""))) === 1;
      // The script writes record and index together, and list reads an organization's records
      // with one MGET: on a Cluster both need the client in its organization's slot. Ids made by
      // newClientId are; any other is refused (on every deployment, so it shows before a Cluster).
      if (clientTag(clientId) !== organizationTag(organizationId)) {
        if ((await available(redis, () => redis.exists(recordKey))) === 1) return false;
        throw new TypeError(`client_id ${clientId} does not carry organization ${organizationId}'s hash tag (see newClientId)`);
      }
      const keys = [recordKey, layout.organizationIndex(organizationId)];
      return (await available(redis, () => scripts.create(keys, toBuffer(encodeRecord(record)), indexMember(record)))) === 1;
    },

    // One round trip: the create script, keeping the request in the organization's slot too.
    async createOnce(record, request) {
      const { clientId, organizationId } = recordIds(record);
      checkCreateRequest(organizationId, request);
      if (clientTag(clientId) !== organizationTag(organizationId)) {
        throw new TypeError(`client_id ${clientId} does not carry organization ${organizationId}'s hash tag (see newClientId)`);
      }
      const reply = await available(redis, () =>
        scripts.createOnce(
          layout.client(clientId),
          layout.organizationIndex(organizationId),
          layout.createRequest(organizationId, request.key),
          toBuffer(encodeRecord(record)),
          indexMember(record),
          toBuffer(request.bytes),
          request.ttlMs,
        ),
      );
      if (typeof reply !== "number") return { created: false, earlier: new Uint8Array(reply) };
      return reply === 1 ? { created: true } : { created: false, earlier: undefined };
    },

    // One round trip: GET.
    async get(clientId: string): Promise<ClientRecord | undefined> {
      const bytes = await available(redis, () => redis.getBuffer(layout.client(clientId)));
      return bytes === null ? undefined : decodeRecord(bytes);
    },

    // Two round trips: the list script (page of index members and total, one consistent view),
    // then MGET of their records, whose keys are known only after the range.
    async list(organizationId: string, options: { limit: number; cursor?: string }): Promise<ClientPage> {
      checkLimit(options.limit);
      const start = options.cursor ? `(${options.cursor}` : "-";
      const indexKey = layout.organizationIndex(organizationId);
      // One member more than asked tells whether there is a next page.
      const [total, members] = await available(redis, () => scripts.list(indexKey, start, options.limit + 1));
      const page = members.slice(0, options.limit);
      const keys = page.map((member) => layout.client(memberClientId(member)));
      const values = keys.length === 0 ? [] : await available(redis, () => redis.mgetBuffer(...keys));
      // An index entry without its record should not exist; skip it rather than fail the page.
      const records = values.flatMap((bytes) => (bytes === null ? [] : [decodeRecord(bytes)]));
      const more = members.length > options.limit;
      return { records, total: Number(total), cursor: more ? page[page.length - 1] : undefined };
    },

    // Two round trips: GET, then the compare-and-delete script (the index member holds the
    // create time, which only the record knows and Lua cannot decode).
    async delete(organizationId: string, clientId: string): Promise<boolean> {
      if (organizationId === "") return false;
      const recordKey = layout.client(clientId);
      const indexKey = layout.organizationIndex(organizationId);
      for (let attempt = 0; attempt < deleteAttempts; attempt++) {
        const bytes = await available(redis, () => redis.getBuffer(recordKey));
        if (bytes === null) return false;
        const record = decodeRecord(bytes);
        // Checked here too so a script never spans another organization's slot.
        if (record.client?.organizationId !== organizationId) return false;
        const useKey = layout.secretUse(clientId);
        const announce = { channel: layout.clientChanges, message: clientId };
        const result = await available(redis, () => scripts.delete(recordKey, indexKey, useKey, bytes, indexMember(record), announce));
        if (result === 1) wrote(clientId);
        if (result !== -1) return result === 1;
      }
      throw new UnavailableError(undefined, { cause: new Error(`client ${clientId} kept changing during delete`) });
    },

    // Two round trips per attempt: GET, then the update script (compare-and-set, plus the use
    // times of secrets the change removed). The index needs no write: an update keeps the create
    // time and id, so the index member stays the same.
    async update(organizationId, clientId, change) {
      if (organizationId === "") return undefined;
      const key = layout.client(clientId);
      return queued(key, async () => {
        for (let attempt = 1; attempt <= updateAttempts; attempt++) {
          const bytes = await available(redis, () => redis.getBuffer(key));
          if (bytes === null) return undefined;
          const current = decodeRecord(bytes);
          if (current.client?.organizationId !== organizationId) return undefined;
          // change gets a copy of its own, so changing it in place cannot slip past the check.
          const next = change(decodeRecord(bytes));
          checkSameIdentity(current, next);
          const nextBytes = encodeRecord(next);
          // Announced with the write, so every instance's record cache drops its copy at once.
          const announce = { channel: layout.clientChanges, message: clientId };
          const removed = removedSecretIds(current, next);
          const set = await available(redis, () => scripts.update(key, layout.secretUse(clientId), bytes, toBuffer(nextBytes), announce, removed));
          if (set === 1) {
            wrote(clientId);
            return decodeRecord(nextBytes);
          }
          if (attempt < updateAttempts) await pause(Math.random() * conflictPauseMs * attempt);
        }
        throw new UnavailableError(undefined, { cause: new Error(`client ${clientId} kept changing during update`) });
      });
    },

    // One round trip (none for no uses): a pipeline of one small script per use, so each use is
    // conditional on its record and its time, and all are sent at once. On a Cluster, one
    // pipeline per organization's slot (ioredis refuses a pipeline spanning nodes), sent together.
    async recordSecretUse(uses) {
      if (uses.length === 0) return;
      await available(redis, () =>
        execPipelinesBySlot(
          redis,
          uses,
          (use) => clientTag(use.clientId),
          (pipeline, { clientId, secretId, timeMs }) =>
            scripts.queueRecordSecretUse(pipeline, layout.client(clientId), layout.secretUse(clientId), secretId, timeMs),
        ),
      );
    },

    // One round trip (none for no ids): HGETALL per client, pipelined per slot as above.
    async secretUse(clientIds) {
      const found: SecretUseTimes = new Map();
      if (clientIds.length === 0) return found;
      const replies = await available(redis, () =>
        execPipelinesBySlot(redis, clientIds, clientTag, (pipeline, clientId) => pipeline.hgetall(layout.secretUse(clientId))),
      );
      clientIds.forEach((clientId, i) => {
        const hash = (replies[i] ?? {}) as Record<string, string>;
        const times = new Map(Object.entries(hash).map(([secretId, ms]) => [secretId, Number(ms)]));
        if (times.size > 0) found.set(clientId, times);
      });
      return found;
    },

    // SCAN on each master (every key present throughout is returned, some twice: skipped), each
    // batch's records read in one pipeline to that node; only the keys' names are kept, to skip repeats.
    async walk(visit) {
      await available(redis, async () => {
        for (const node of dataNodes(redis)) {
          const seen = new Set<string>();
          let cursor = "0";
          do {
            const [next, batch] = await node.scan(cursor, "MATCH", layout.clientMatch, "COUNT", walkBatch);
            cursor = next;
            const keys = batch.filter((key) => !seen.has(key) && layout.parse(key)?.kind === "client");
            for (const key of keys) seen.add(key);
            if (keys.length === 0) continue;
            const pipeline = node.pipeline();
            for (const key of keys) pipeline.getBuffer(key);
            for (const bytes of await execPipeline(pipeline)) if (bytes !== null) visit(decodeRecord(bytes as Buffer));
          } while (cursor !== "0");
        }
      });
    },

    // One round trip: SET NX PX, so the check and the mark are one step on every instance, and
    // Redis forgets the id once the assertion it guards has expired anyway.
    async useOnce(clientId, id, ttlMs) {
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new TypeError("useOnce: ttlMs must be a positive integer");
      const key = layout.assertionUse(clientId, assertionIdDigest(id));
      return (await available(redis, () => redis.set(key, "1", "PX", ttlMs, "NX"))) === "OK";
    },
  };
}
