import { UnavailableError } from "../errors.js";
import { checkLimit } from "./client-record-codec.js";
import type { KeyLayout } from "./key-layout.js";
import { available, toBuffer } from "./redis-calls.js";
import type { RedisClient } from "./redis-connection.js";
import {
  checkNewResourceServer,
  checkSameResourceServer,
  decodeResourceServer,
  encodeResourceServer,
  maxResourceServers,
  memberResourceServerId,
  resourceServerMember,
  type ResourceServerCreated,
  type ResourceServerStore,
} from "./resource-server-store.js";

// The registry is three keys under one hash tag (key-layout.ts): `records` (id → bytes),
// `audiences` (audience → id) and `index` (create-time members). Each write is one script over
// all three, so a server, its unique audience and its index entry exist together or not at all,
// on a single node, a Cluster (one slot) and Sentinel alike.

// KEYS: records, audiences, index. ARGV: id, audience, bytes, index member, the bound.
const createLua = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'id-taken' end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 'audience-taken' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
return 'created'`;

// KEYS: index. ARGV: range start ('-' or '(' .. cursor), count. {total, members}: one view of both.
const listLua = `
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, ARGV[2])
return {redis.call('ZCARD', KEYS[1]), members}`;

// KEYS: records, audiences. ARGV: audiences. {total, bytes of each registered one...}.
const lookupLua = `
local found = {redis.call('HLEN', KEYS[1])}
for i = 1, #ARGV do
  local id = redis.call('HGET', KEYS[2], ARGV[i])
  if id then
    local bytes = redis.call('HGET', KEYS[1], id)
    if bytes then found[#found + 1] = bytes end
  end
end
return found`;

// KEYS: records. ARGV: id, the bytes the caller read, new bytes. 1 if written; 0 if it changed or went.
const updateLua = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// KEYS: records, audiences, index. ARGV: id, the bytes the caller read, audience, index member.
// 1 if deleted; -1 if the server changed since it was read (read again); 0 if it is gone.
const deleteLua = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
if current ~= ARGV[2] then return -1 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
redis.call('ZREM', KEYS[3], ARGV[4])
return 1`;

type Arg = string | Buffer | number;

interface ScriptedRedis {
  m2mRsCreate(...args: Arg[]): Promise<string>;
  m2mRsList(...args: Arg[]): Promise<[number, string[]]>;
  m2mRsLookupBuffer(numberOfKeys: number, ...args: Arg[]): Promise<(number | Buffer)[]>;
  m2mRsUpdate(...args: Arg[]): Promise<number>;
  m2mRsDelete(...args: Arg[]): Promise<number>;
}

// Writes are rare (an operator's), so a few attempts cover a concurrent writer.
const attempts = 5;

/** createRedisResourceServerStore returns the registry over `redis`. */
export function createRedisResourceServerStore(redis: RedisClient, layout: KeyLayout): ResourceServerStore {
  redis.defineCommand("m2mRsCreate", { lua: createLua, numberOfKeys: 3 });
  redis.defineCommand("m2mRsList", { lua: listLua, numberOfKeys: 1, readOnly: true });
  redis.defineCommand("m2mRsLookup", { lua: lookupLua, readOnly: true });
  redis.defineCommand("m2mRsUpdate", { lua: updateLua, numberOfKeys: 1 });
  redis.defineCommand("m2mRsDelete", { lua: deleteLua, numberOfKeys: 3 });
  const scripted = redis as unknown as ScriptedRedis;
  const { records, audiences, index } = layout.resourceServers;
  const read = (id: string) => available(redis, () => redis.hgetBuffer(records, id));
  const changing = (id: string) => new UnavailableError(undefined, { cause: new Error(`resource server ${id} kept changing`) });
  return {
    // One round trip: the create script.
    async create(server) {
      checkNewResourceServer(server);
      const bytes = toBuffer(encodeResourceServer(server));
      const member = resourceServerMember(server);
      return (await available(redis, () =>
        scripted.m2mRsCreate(records, audiences, index, server.id, server.audience, bytes, member, maxResourceServers),
      )) as ResourceServerCreated;
    },

    // One round trip: HGET.
    async get(id) {
      const bytes = await read(id);
      return bytes === null ? undefined : decodeResourceServer(bytes);
    },

    // Two round trips: the list script, then HMGET of the page's records.
    async list({ limit, cursor }) {
      checkLimit(limit);
      const start = cursor ? `(${cursor}` : "-";
      const [total, members] = await available(redis, () => scripted.m2mRsList(index, start, limit + 1));
      const page = members.slice(0, limit);
      const ids = page.map(memberResourceServerId);
      const values = ids.length === 0 ? [] : await available(redis, () => redis.hmgetBuffer(records, ...ids));
      const servers = values.flatMap((bytes) => (bytes === null ? [] : [decodeResourceServer(bytes)]));
      return { servers, total: Number(total), cursor: members.length > limit ? page[page.length - 1] : undefined };
    },

    // One round trip: the lookup script (the count and the named servers, one consistent view).
    async lookup(wanted) {
      const [total, ...found] = await available(redis, () => scripted.m2mRsLookupBuffer(2, records, audiences, ...wanted));
      return { total: Number(total), servers: found.map((bytes) => decodeResourceServer(bytes as Buffer)) };
    },

    // Two round trips per attempt: HGET, then the compare-and-set script.
    async update(id, change) {
      for (let attempt = 0; attempt < attempts; attempt++) {
        const bytes = await read(id);
        if (bytes === null) return undefined;
        const next = change(decodeResourceServer(bytes));
        checkSameResourceServer(decodeResourceServer(bytes), next);
        const nextBytes = encodeResourceServer(next);
        if ((await available(redis, () => scripted.m2mRsUpdate(records, id, bytes, toBuffer(nextBytes)))) === 1) return decodeResourceServer(nextBytes);
      }
      throw changing(id);
    },

    // Two round trips per attempt: HGET (the audience and member only the record knows), then the compare-and-delete script.
    async delete(id) {
      for (let attempt = 0; attempt < attempts; attempt++) {
        const bytes = await read(id);
        if (bytes === null) return false;
        const server = decodeResourceServer(bytes);
        const result = await available(redis, () => scripted.m2mRsDelete(records, audiences, index, id, bytes, server.audience, resourceServerMember(server)));
        if (result !== -1) return result === 1;
      }
      throw changing(id);
    },
  };
}
