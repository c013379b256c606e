import type { ChainableCommander } from "ioredis";
import type { RedisClient } from "./redis-connection.js";

// Each write is one Lua script, so it is atomic and conditional: a crash or a concurrent writer
// can never leave a record without its index entry or the reverse. Every key a script touches is
// passed in KEYS (never built in Lua) and shares one hash tag, as Redis Cluster requires.

// KEYS: record[, index[, create request]]. ARGV: record bytes, index member[, request bytes,
// request ttl in ms]. 1 if created, 0 if the id is taken. With a request key: if a request is kept
// there, its bytes, and nothing is written (the create happened before: a retry); else the
// request is kept with the record, so a create and its replayable answer exist together or not.
const createLua = `
if #KEYS > 2 then
  local earlier = redis.call('GET', KEYS[3])
  if earlier then return earlier end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
if #KEYS > 1 then redis.call('ZADD', KEYS[2], 0, ARGV[2]) end
if #KEYS > 2 then redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
return 1`;

// KEYS: record, index, secret use. ARGV: the record bytes the caller read, its index member, the
// change channel, the client id (announced there once deleted, atomically with the delete). 1 if deleted; 0 if there is no record or it is not in this index; -1 if the record changed
// since the caller read it (updated, or deleted and created again), so the caller reads it again.
const deleteLua = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if current ~= ARGV[1] then return -1 end
if not redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
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

// KEYS: value. ARGV: '1' and the expected bytes, or '0' and '' (expect no value); new bytes.
// 1 if set; 0 if the key holds something else. Serves state values (records have updateLua).
const compareAndSetLua = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
return 1`;

// KEYS: record, secret use. ARGV: the record bytes the caller read, the new bytes, the change
// channel, the client id (announced there once written), then the ids of the secrets the change
// removed: their use times go in the same step, so no usage field outlives its secret. 1 if
// written; 0 if the record changed (or went) since the caller read it, so the caller reads again.
const updateLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if #ARGV > 4 then redis.call('HDEL', KEYS[2], unpack(ARGV, 5)) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

// KEYS: the expected names, then the names to set, then the names to delete. ARGV: the number of
// expected names, the number to set, then per expected name '0' and '' (must not exist, of any
// type) or '1' and its bytes (a string holding exactly those), then the values to set. 1 if
// applied; 0 if an expectation failed (nothing written).
const commitLua = `
local expected, set = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, expected do
  if ARGV[1 + 2 * i] == '0' then
    if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
  elseif redis.call('TYPE', KEYS[i]).ok ~= 'string' or redis.call('GET', KEYS[i]) ~= ARGV[2 + 2 * i] then
    return 0
  end
end
local values = 2 + 2 * expected
for i = 1, set do redis.call('SET', KEYS[expected + i], ARGV[values + i]) end
for i = expected + set + 1, #KEYS do redis.call('DEL', KEYS[i]) end
return 1`;

// KEYS: record, secret use. ARGV: secret id, time in ms, the secret id as the record encodes it
// (see secretIdField). 1 if stored. Only while the record exists and still holds the secret (a
// late use of a deleted client or secret must not bring its time back), and only forward: times
// at or before the stored one (or 0, as for a secret never used) are dropped.
const recordSecretUseLua = `
local record = redis.call('GET', KEYS[1])
if not record or not string.find(record, ARGV[3], 1, true) then return 0 end
local time = tonumber(ARGV[2])
local stored = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0
if not time or time <= stored then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1`;

// KEYS: lock. ARGV: owner. Deletes the lock only while `owner` holds it; 1 if deleted.
const releaseLockLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`;

// Binary values must be Buffers: ioredis sends any other object as its String() form.
type Arg = string | Buffer | number;

/** Announcement is a message a write publishes on a channel once it has happened. */
export interface Announcement {
  channel: string;
  message: string;
}

/**
 * secretIdField is how a record's bytes hold a secret id: protobuf field 1 (`SecretHash.secret_id`,
 * `ClientSecret.id`), tag 0x0A then its one-byte length, so a Lua script can find it without
 * decoding and one id never matches inside a longer one. Undefined for an id of 128 bytes or more.
 */
export function secretIdField(secretId: string): Buffer | undefined {
  const id = Buffer.from(secretId, "utf8");
  return id.length < 128 ? Buffer.concat([Buffer.from([0x0a, id.length]), id]) : undefined;
}

/** StoreScripts are the store's Lua scripts, run by EVALSHA (falling back to EVAL once). */
export interface StoreScripts {
  /** create runs the create script; `keys` is the record key, then the index key if indexed. */
  create(keys: string[], bytes: Buffer, member: string): Promise<number>;
  /** createOnce runs the create script with a create request: 1, 0, or the bytes of a request kept before. */
  createOnce(recordKey: string, indexKey: string, requestKey: string, bytes: Buffer, member: string, request: Buffer, ttlMs: number): Promise<number | Buffer>;
  /** delete runs the compare-and-delete script over the record, index and secret-use keys; it announces `announce` on success. */
  delete(recordKey: string, indexKey: string, useKey: string, bytes: Buffer, member: string, announce: Announcement): Promise<number>;
  /** list returns the total and up to `count` members from `start`. */
  list(indexKey: string, start: string, count: number): Promise<[number, string[]]>;
  /** putIfAbsent stores the value unless the key has one and returns the stored value. */
  putIfAbsent(key: string, value: Buffer): Promise<Buffer>;
  /** compareAndSet sets `key` to `value` if it holds `expected` (undefined: no value); 1 if set. */
  compareAndSet(key: string, expected: Buffer | undefined, value: Buffer): Promise<number>;
  /** update writes a record over the bytes it was read as, drops the use times of `removedSecretIds`, and announces `announce`; 1 if written. */
  update(recordKey: string, useKey: string, expected: Buffer, value: Buffer, announce: Announcement, removedSecretIds: readonly string[]): Promise<number>;
  /** commit runs the multi-value compare-and-set script: `expect` pairs a key with its bytes (undefined: absent). */
  commit(expect: readonly [string, Buffer | undefined][], set: readonly [string, Buffer][], remove: readonly string[]): Promise<number>;
  /** queueRecordSecretUse adds one secret-use script call to `pipeline` (run by its exec). */
  queueRecordSecretUse(pipeline: ChainableCommander, recordKey: string, useKey: string, secretId: string, timeMs: number): void;
  /** releaseLock deletes the lock key if it holds `owner`. */
  releaseLock(key: string, owner: string): Promise<number>;
}

// defineCommand adds methods ioredis cannot type; this is their shape. Names are namespaced
// because the commands are defined on a client the caller may share.
interface ScriptedRedis {
  m2mStoreCreate(numberOfKeys: number, ...args: Arg[]): Promise<number>;
  m2mStoreCreateBuffer(numberOfKeys: number, ...args: Arg[]): Promise<number | Buffer>;
  m2mStoreDelete(...args: Arg[]): Promise<number>;
  m2mStoreList(...args: Arg[]): Promise<[number, string[]]>;
  m2mStorePutIfAbsentBuffer(...args: Arg[]): Promise<Buffer>;
  m2mStoreCompareAndSet(...args: Arg[]): Promise<number>;
  m2mStoreUpdate(...args: Arg[]): Promise<number>;
  m2mStoreReleaseLock(...args: Arg[]): Promise<number>;
  m2mStoreCommit(numberOfKeys: number, ...args: Arg[]): Promise<number>;
}

// A pipeline copies the commands defined on its client; queued calls resolve through exec().
interface ScriptedPipeline {
  m2mStoreRecordSecretUse(...args: Arg[]): unknown;
}

/** defineStoreScripts registers the scripts on `redis` and returns typed callers. */
export function defineStoreScripts(redis: RedisClient): StoreScripts {
  redis.defineCommand("m2mStoreCreate", { lua: createLua });
  redis.defineCommand("m2mStoreDelete", { lua: deleteLua, numberOfKeys: 3 });
  redis.defineCommand("m2mStoreList", { lua: listLua, numberOfKeys: 1, readOnly: true });
  redis.defineCommand("m2mStorePutIfAbsent", { lua: putIfAbsentLua, numberOfKeys: 1 });
  redis.defineCommand("m2mStoreCompareAndSet", { lua: compareAndSetLua, numberOfKeys: 1 });
  redis.defineCommand("m2mStoreUpdate", { lua: updateLua, numberOfKeys: 2 });
  redis.defineCommand("m2mStoreRecordSecretUse", { lua: recordSecretUseLua, numberOfKeys: 2 });
  redis.defineCommand("m2mStoreReleaseLock", { lua: releaseLockLua, numberOfKeys: 1 });
  redis.defineCommand("m2mStoreCommit", { lua: commitLua });
  const scripted = redis as unknown as ScriptedRedis;
  return {
    create: (keys, bytes, member) => scripted.m2mStoreCreate(keys.length, ...keys, bytes, member),
    createOnce: (recordKey, indexKey, requestKey, bytes, member, request, ttlMs) =>
      scripted.m2mStoreCreateBuffer(3, recordKey, indexKey, requestKey, bytes, member, request, String(ttlMs)),
    delete: (recordKey, indexKey, useKey, bytes, member, announce) =>
      scripted.m2mStoreDelete(recordKey, indexKey, useKey, bytes, member, announce.channel, announce.message),
    list: (indexKey, start, count) => scripted.m2mStoreList(indexKey, start, count),
    putIfAbsent: (key, value) => scripted.m2mStorePutIfAbsentBuffer(key, value),
    compareAndSet: (key, expected, value) =>
      expected === undefined ? scripted.m2mStoreCompareAndSet(key, "0", "", value) : scripted.m2mStoreCompareAndSet(key, "1", expected, value),
    update: (recordKey, useKey, expected, value, announce, removedSecretIds) =>
      scripted.m2mStoreUpdate(recordKey, useKey, expected, value, announce.channel, announce.message, ...removedSecretIds),
    queueRecordSecretUse: (pipeline, recordKey, useKey, secretId, timeMs) => {
      // An id too long to be stored (none is) matches nothing: the use is dropped.
      const field = secretIdField(secretId) ?? Buffer.from([0x0a, 0x80]);
      (pipeline as unknown as ScriptedPipeline).m2mStoreRecordSecretUse(recordKey, useKey, secretId, String(timeMs), field);
    },
    releaseLock: (key, owner) => scripted.m2mStoreReleaseLock(key, owner),
    commit: (expect, set, remove) => {
      const keys = [...expect.map(([key]) => key), ...set.map(([key]) => key), ...remove];
      const expectations = expect.flatMap(([, bytes]): Arg[] => (bytes === undefined ? ["0", ""] : ["1", bytes]));
      return scripted.m2mStoreCommit(keys.length, ...keys, expect.length, set.length, ...expectations, ...set.map(([, value]) => value));
    },
  };
}
