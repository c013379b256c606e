import type { RedisClient } from "../store/redis-connection.js";

// The check walks the store while the service may be writing to it, so nothing it saw is taken
// for granted: each suspected finding is judged again by one of these scripts, atomically, against
// the record as the walk read it, and repaired in the same script when asked. A record that changed
// since (updated, deleted, created) makes the script answer -1 and change nothing; the caller reads
// it again and judges anew. The service's own writes are scripts too (store/redis-scripts.ts), so
// none can land between a script's test and its write.

// Every script: KEYS[1] is the record. ARGV[1] is 'absent' (expect no record), 'present' and
// ARGV[2] the record's bytes, or 'any' (the finding holds whatever the record is, which is then
// not read: see RepairScripts.removeIndexEntry). ARGV[3] is '1' to repair, '0' only to judge.
const expectRecord = `
if ARGV[1] ~= 'any' then
  local current = redis.call('GET', KEYS[1])
  if ARGV[1] == 'absent' and current then return -1 end
  if ARGV[1] == 'present' and current ~= ARGV[2] then return -1 end
end
local repair = ARGV[3] == '1'
`;

// KEYS: record, index. ARGV[4]: the record's index member. 1 if it is missing (then added).
const addIndexEntryLua = `${expectRecord}
if redis.call('ZSCORE', KEYS[2], ARGV[4]) then return 0 end
if repair then redis.call('ZADD', KEYS[2], 0, ARGV[4]) end
return 1`;

// KEYS: record, index. ARGV[4]: the member. 1 if it is there (then removed).
const removeIndexEntryLua = `${expectRecord}
if not redis.call('ZSCORE', KEYS[2], ARGV[4]) then return 0 end
if repair then redis.call('ZREM', KEYS[2], ARGV[4]) end
return 1`;

// KEYS: record, secret use. ARGV[4..]: secret ids. How many of their fields are there (then removed).
const removeUseFieldsLua = `${expectRecord}
local found = {}
for i = 4, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then found[#found + 1] = ARGV[i] end
end
if repair and #found > 0 then redis.call('HDEL', KEYS[2], unpack(found)) end
return #found`;

// KEYS: record, secret use. 1 if the hash is there (then deleted); called with 'absent'.
const removeUseHashLua = `${expectRecord}
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if repair then redis.call('DEL', KEYS[2]) end
return 1`;

/** Expected is what the record must be for a script to act: absent, these bytes, or anything. */
export type Expected = { readonly record: "absent" } | { readonly record: "present"; readonly bytes: Buffer } | { readonly record: "any" };

/** RepairScripts judge (and with `repair`, fix) one finding: >0 it holds, 0 it no longer does, -1 the record changed. */
export interface RepairScripts {
  /** addIndexEntry: the record's member is missing from its organization's index. */
  addIndexEntry(recordKey: string, indexKey: string, expected: Expected, member: string, repair: boolean): Promise<number>;
  /** removeIndexEntry: the member names no record of this index (`any` only when the member can never be valid). */
  removeIndexEntry(recordKey: string, indexKey: string, expected: Expected, member: string, repair: boolean): Promise<number>;
  /** removeUseFields: the secret-use hash holds fields of secrets the record no longer has. */
  removeUseFields(recordKey: string, useKey: string, expected: Expected, secretIds: readonly string[], repair: boolean): Promise<number>;
  /** removeUseHash: a secret-use hash outlived its record (call with `absent`). */
  removeUseHash(recordKey: string, useKey: string, expected: Expected, repair: boolean): Promise<number>;
}

type Arg = string | Buffer;
type Scripted = Record<
  "m2mCheckAddIndexEntry" | "m2mCheckRemoveIndexEntry" | "m2mCheckRemoveUseFields" | "m2mCheckRemoveUseHash",
  (...args: Arg[]) => Promise<number>
>;

function expectation(expected: Expected): Arg[] {
  return expected.record === "present" ? ["present", expected.bytes] : [expected.record, ""];
}

/** defineRepairScripts registers the scripts on `redis` (names namespaced apart from the store's) and returns typed callers. */
export function defineRepairScripts(redis: RedisClient): RepairScripts {
  redis.defineCommand("m2mCheckAddIndexEntry", { lua: addIndexEntryLua, numberOfKeys: 2 });
  redis.defineCommand("m2mCheckRemoveIndexEntry", { lua: removeIndexEntryLua, numberOfKeys: 2 });
  redis.defineCommand("m2mCheckRemoveUseFields", { lua: removeUseFieldsLua, numberOfKeys: 2 });
  redis.defineCommand("m2mCheckRemoveUseHash", { lua: removeUseHashLua, numberOfKeys: 2 });
  const scripted = redis as unknown as Scripted;
  const flag = (repair: boolean) => (repair ? "1" : "0");
  return {
    addIndexEntry: (recordKey, indexKey, expected, member, repair) =>
      scripted.m2mCheckAddIndexEntry(recordKey, indexKey, ...expectation(expected), flag(repair), member),
    // A record in another slot than the index cannot be in one script with it (Redis Cluster), and
    // is not read with `any`: the index key stands in for it.
    removeIndexEntry: (recordKey, indexKey, expected, member, repair) =>
      scripted.m2mCheckRemoveIndexEntry(expected.record === "any" ? indexKey : recordKey, indexKey, ...expectation(expected), flag(repair), member),
    removeUseFields: (recordKey, useKey, expected, secretIds, repair) =>
      scripted.m2mCheckRemoveUseFields(recordKey, useKey, ...expectation(expected), flag(repair), ...secretIds),
    removeUseHash: (recordKey, useKey, expected, repair) => scripted.m2mCheckRemoveUseHash(recordKey, useKey, ...expectation(expected), flag(repair)),
  };
}
