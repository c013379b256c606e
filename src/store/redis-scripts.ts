import type { Redis } from "ioredis";

// Each write is one Lua script, so it is atomic and conditional: a crash or a concurrent writer
// can never leave a record without its index entry or the reverse. Every key a script touches is
// passed in KEYS (never built in Lua) and shares one hash tag, as Redis Cluster requires.

// KEYS: record[, index]. ARGV: record bytes, index member. 1 if created, 0 if the id is taken.
const createLua = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
if #KEYS > 1 then redis.call('ZADD', KEYS[2], 0, ARGV[2]) end
return 1`;

// KEYS: record, index. ARGV: the record bytes the caller read, its index member.
// 1 if deleted; 0 if there is no record or it is not in this index; -1 if the record changed
// since the caller read it (deleted and created again), so the caller reads it again.
const deleteLua = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if current ~= ARGV[1] then return -1 end
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`;

// KEYS: index. ARGV: range start ('-' or '(' .. cursor), count. Returns {total, members}: one
// consistent view of a page and the total. Needs Redis 6.2+ for ZRANGE BYLEX.
const listLua = `
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, ARGV[2])
return {redis.call('ZCARD', KEYS[1]), members}`;

// KEYS: value. ARGV: value. Returns the value stored now, set here or before.
const putIfAbsentLua = `
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`;

// Binary values must be Buffers: ioredis sends any other object as its String() form.
type Arg = string | Buffer | number;

/** StoreScripts are the store's Lua scripts, run by EVALSHA (falling back to EVAL once). */
export interface StoreScripts {
  /** create runs the create script; `keys` is the record key, then the index key if indexed. */
  create(keys: string[], bytes: Buffer, member: string): Promise<number>;
  /** delete runs the compare-and-delete script over the record and index keys. */
  delete(recordKey: string, indexKey: string, bytes: Buffer, member: string): Promise<number>;
  /** list returns the total and up to `count` members from `start`. */
  list(indexKey: string, start: string, count: number): Promise<[number, string[]]>;
  /** putIfAbsent stores the value unless the key has one and returns the stored value. */
  putIfAbsent(key: string, value: Buffer): Promise<Buffer>;
}

// defineCommand adds methods ioredis cannot type; this is their shape. Names are namespaced
// because the commands are defined on a client the caller may share.
interface ScriptedRedis {
  m2mStoreCreate(numberOfKeys: number, ...args: Arg[]): Promise<number>;
  m2mStoreDelete(...args: Arg[]): Promise<number>;
  m2mStoreList(...args: Arg[]): Promise<[number, string[]]>;
  m2mStorePutIfAbsentBuffer(...args: Arg[]): Promise<Buffer>;
}

/** defineStoreScripts registers the scripts on `redis` and returns typed callers. */
export function defineStoreScripts(redis: Redis): StoreScripts {
  redis.defineCommand("m2mStoreCreate", { lua: createLua });
  redis.defineCommand("m2mStoreDelete", { lua: deleteLua, numberOfKeys: 2 });
  redis.defineCommand("m2mStoreList", { lua: listLua, numberOfKeys: 1, readOnly: true });
  redis.defineCommand("m2mStorePutIfAbsent", { lua: putIfAbsentLua, numberOfKeys: 1 });
  const scripted = redis as unknown as ScriptedRedis;
  return {
    create: (keys, bytes, member) => scripted.m2mStoreCreate(keys.length, ...keys, bytes, member),
    delete: (recordKey, indexKey, bytes, member) => scripted.m2mStoreDelete(recordKey, indexKey, bytes, member),
    list: (indexKey, start, count) => scripted.m2mStoreList(indexKey, start, count),
    putIfAbsent: (key, value) => scripted.m2mStorePutIfAbsentBuffer(key, value),
  };
}
