import { randomBytes } from "node:crypto";
import { inject } from "vitest";

/** testRedisUrl is the real Redis every test talks to (see global-setup.ts). */
export function testRedisUrl(): string {
  return inject("redisUrl");
}

/** uniquePrefix is a key prefix of its own for one test or suite, inside this run's prefix. */
export function uniquePrefix(): string {
  return `${inject("runPrefix")}${randomBytes(4).toString("hex")}:`;
}
