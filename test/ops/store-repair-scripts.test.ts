import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineRepairScripts, type RepairScripts } from "../../src/ops/store-repair-scripts.js";
import { createRedisConnection, type RedisClient } from "../../src/store/redis-connection.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";

// Each repair script acts only while the record is what the caller judged it to be: a record that
// changed since answers -1 and nothing is written; asked only to judge, nothing is written either.

let redis: RedisClient;
let scripts: RepairScripts;
beforeAll(() => {
  redis = createRedisConnection(testRedisUrl());
  scripts = defineRepairScripts(redis);
});
afterAll(() => redis.disconnect());

const keys = () => {
  const prefix = uniquePrefix();
  return { record: `${prefix}{t}:record`, index: `${prefix}{t}:index`, use: `${prefix}{t}:use` };
};
const seen = Buffer.from("record as read");
const present = { record: "present", bytes: seen } as const;

describe("repair scripts", () => {
  it("addIndexEntry adds a missing entry only to the record as read", async () => {
    const k = keys();
    await redis.set(k.record, "record changed since");
    expect(await scripts.addIndexEntry(k.record, k.index, present, "m1", true)).toBe(-1);
    expect(await redis.exists(k.index)).toBe(0);
    await redis.set(k.record, seen);
    expect(await scripts.addIndexEntry(k.record, k.index, present, "m1", false)).toBe(1);
    expect(await redis.exists(k.index)).toBe(0);
    expect(await scripts.addIndexEntry(k.record, k.index, present, "m1", true)).toBe(1);
    expect(await redis.zrange(k.index, "0", "-1")).toEqual(["m1"]);
    expect(await scripts.addIndexEntry(k.record, k.index, present, "m1", true)).toBe(0);
    await redis.del(k.record);
    expect(await scripts.addIndexEntry(k.record, k.index, present, "m2", true)).toBe(-1);
    expect(await redis.zrange(k.index, "0", "-1")).toEqual(["m1"]);
  });

  it("removeIndexEntry removes an entry only while its record is absent (or as read), or whatever it is with `any`", async () => {
    const k = keys();
    await redis.zadd(k.index, 0, "m1", 0, "m2");
    await redis.set(k.record, "created since");
    expect(await scripts.removeIndexEntry(k.record, k.index, { record: "absent" }, "m1", true)).toBe(-1);
    expect(await scripts.removeIndexEntry(k.record, k.index, present, "m1", true)).toBe(-1);
    expect(await scripts.removeIndexEntry(k.record, k.index, { record: "any" }, "m1", false)).toBe(1);
    expect(await redis.zcard(k.index)).toBe(2);
    expect(await scripts.removeIndexEntry(k.record, k.index, { record: "any" }, "m1", true)).toBe(1);
    await redis.del(k.record);
    expect(await scripts.removeIndexEntry(k.record, k.index, { record: "absent" }, "m2", true)).toBe(1);
    expect(await scripts.removeIndexEntry(k.record, k.index, { record: "absent" }, "m2", true)).toBe(0);
    expect(await redis.exists(k.index)).toBe(0);
  });

  it("removeUseFields removes the named fields only of the record as read", async () => {
    const k = keys();
    await redis.hset(k.use, "kept", "1", "gone1", "2", "gone2", "3");
    await redis.set(k.record, "updated since");
    expect(await scripts.removeUseFields(k.record, k.use, present, ["gone1", "gone2", "never"], true)).toBe(-1);
    await redis.set(k.record, seen);
    expect(await scripts.removeUseFields(k.record, k.use, present, ["gone1", "gone2", "never"], false)).toBe(2);
    expect(await redis.hlen(k.use)).toBe(3);
    expect(await scripts.removeUseFields(k.record, k.use, present, ["gone1", "gone2", "never"], true)).toBe(2);
    expect(await redis.hkeys(k.use)).toEqual(["kept"]);
    expect(await scripts.removeUseFields(k.record, k.use, present, ["gone1"], true)).toBe(0);
  });

  it("removeUseHash deletes a usage hash only while its record is absent", async () => {
    const k = keys();
    await redis.hset(k.use, "s", "1");
    await redis.set(k.record, "created since");
    expect(await scripts.removeUseHash(k.record, k.use, { record: "absent" }, true)).toBe(-1);
    expect(await redis.exists(k.use)).toBe(1);
    await redis.del(k.record);
    expect(await scripts.removeUseHash(k.record, k.use, { record: "absent" }, false)).toBe(1);
    expect(await redis.exists(k.use)).toBe(1);
    expect(await scripts.removeUseHash(k.record, k.use, { record: "absent" }, true)).toBe(1);
    expect(await scripts.removeUseHash(k.record, k.use, { record: "absent" }, true)).toBe(0);
    expect(await redis.exists(k.use)).toBe(0);
  });
});
