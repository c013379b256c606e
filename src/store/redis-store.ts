import type { Redis } from "ioredis";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { UnavailableError } from "../errors.js";
import type { ClientPage, ClientStore, StateStore, Store } from "./client-store.js";
import { checkLimit, decodeRecord, encodeRecord, indexMember, memberClientId, recordIds } from "./client-record-codec.js";
import { createKeyLayout, type KeyLayout } from "./key-layout.js";
import { createRedisConnection } from "./redis-connection.js";
import { defineStoreScripts, type StoreScripts } from "./redis-scripts.js";

/** RedisStoreOptions configures createRedisStore: give `url` or `redis`, and `keyPrefix`. */
export interface RedisStoreOptions {
  /** url opens a connection of the store's own (e.g. `redis://127.0.0.1:6379`), closed by close(). */
  url?: string;
  /** redis is an existing client to use; the caller owns it and its options, close() leaves it open. */
  redis?: Redis;
  /** keyPrefix starts every key the store writes (e.g. `m2m:`), so one Redis can hold several. */
  keyPrefix: string;
}

// A delete reads the record, then deletes it only if it is unchanged; a record deleted and
// created again in between is read again, a few times at most.
const deleteAttempts = 3;

/** available runs a Redis call, turning any failure into UnavailableError so callers fail closed. */
async function available<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new UnavailableError(undefined, { cause: err });
  }
}

// Binary values must reach ioredis as Buffers; a copy also keeps a queued command's bytes fixed.
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}

function createRedisClientStore(redis: Redis, layout: KeyLayout, scripts: StoreScripts): ClientStore {
  return {
    // One round trip: the create script.
    async create(record: ClientRecord): Promise<boolean> {
      const { clientId, organizationId } = recordIds(record);
      const keys = [layout.client(clientId)];
      // System clients (no organization, e.g. the bootstrap admin) are not organization clients,
      // so no list shows them; their ids carry no organization's hash tag, so their key may not
      // share a slot with any index either.
      if (organizationId !== "") keys.push(layout.organizationIndex(organizationId));
      const bytes = toBuffer(encodeRecord(record));
      return (await available(() => scripts.create(keys, bytes, indexMember(record)))) === 1;
    },

    // One round trip: GET.
    async get(clientId: string): Promise<ClientRecord | undefined> {
      const bytes = await available(() => redis.getBuffer(layout.client(clientId)));
      return bytes === null ? undefined : decodeRecord(bytes);
    },

    // Two round trips: the list script (page of index members and total, one consistent view),
    // then MGET of their records, whose keys are known only after the range.
    async list(organizationId: string, options: { limit: number; cursor?: string }): Promise<ClientPage> {
      checkLimit(options.limit);
      const start = options.cursor ? `(${options.cursor}` : "-";
      const indexKey = layout.organizationIndex(organizationId);
      // One member more than asked tells whether there is a next page.
      const [total, members] = await available(() => scripts.list(indexKey, start, options.limit + 1));
      const page = members.slice(0, options.limit);
      const keys = page.map((member) => layout.client(memberClientId(member)));
      const values = keys.length === 0 ? [] : await available(() => redis.mgetBuffer(...keys));
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
        const bytes = await available(() => redis.getBuffer(recordKey));
        if (bytes === null) return false;
        const record = decodeRecord(bytes);
        // Checked here too so a script never spans another organization's slot.
        if (record.client?.organizationId !== organizationId) return false;
        const result = await available(() => scripts.delete(recordKey, indexKey, bytes, indexMember(record)));
        if (result !== -1) return result === 1;
      }
      throw new UnavailableError(undefined, { cause: new Error(`client ${clientId} kept changing during delete`) });
    },
  };
}

function createRedisStateStore(redis: Redis, layout: KeyLayout, scripts: StoreScripts): StateStore {
  return {
    async get(name: string): Promise<Uint8Array | undefined> {
      const bytes = await available(() => redis.getBuffer(layout.state(name)));
      return bytes === null ? undefined : new Uint8Array(bytes);
    },
    // One round trip: the script sets the value if absent and returns what is stored.
    async putIfAbsent(name: string, value: Uint8Array): Promise<Uint8Array> {
      const stored = await available(() => scripts.putIfAbsent(layout.state(name), toBuffer(value)));
      return new Uint8Array(stored);
    },
    async put(name: string, value: Uint8Array): Promise<void> {
      await available(() => redis.set(layout.state(name), toBuffer(value)));
    },
  };
}

/** createRedisStore returns the Redis backend; it throws TypeError for missing or conflicting options. */
export function createRedisStore(options: RedisStoreOptions): Store {
  if (typeof options.keyPrefix !== "string" || options.keyPrefix === "") {
    throw new TypeError("createRedisStore: keyPrefix is required");
  }
  if (options.url !== undefined && options.redis !== undefined) {
    throw new TypeError("createRedisStore: give url or redis, not both");
  }
  if (options.redis === undefined && !options.url) {
    throw new TypeError("createRedisStore: url or redis is required");
  }
  const owned = options.redis === undefined;
  const redis = options.redis ?? createRedisConnection(options.url ?? "");
  const layout = createKeyLayout(options.keyPrefix);
  const scripts = defineStoreScripts(redis);
  return {
    clients: createRedisClientStore(redis, layout, scripts),
    state: createRedisStateStore(redis, layout, scripts),
    async ping(): Promise<void> {
      await available(() => redis.ping());
    },
    async close(): Promise<void> {
      if (!owned || redis.status === "end") return;
      // QUIT lets queued writes finish first; when Redis is unreachable it fails fast (or
      // resolves at once with nothing queued), and the socket is dropped instead.
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
