import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../../src/store/redis-store.js";
import { managementApi } from "../support/management-api.js";
import { startRedisSentinel, type TestRedisSentinel } from "../support/redis-sentinel.js";
import { uniquePrefix } from "../support/redis.js";
import { getToken, startTestServer } from "../support/server.js";
import { describeServerFlow } from "./server-flow.js";

// The service with its store on a primary guarded by three Sentinels, and a failover under load.

let sentinel: TestRedisSentinel;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
});
afterAll(async () => {
  await sentinel?.stop();
});

describeServerFlow("redis sentinel", () => sentinel.connection);

/** Answer is what one token request got, and when. */
interface Answer {
  at: number;
  status: number;
  body: string;
  retryAfter: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const recoveryLimitMs = 20_000;

// Last: it kills the primary.
describe("redis sentinel: failover", () => {
  it("answers only 200 or 503 temporarily_unavailable while the primary fails over, and 200 again after, without a restart", { timeout: 40_000 }, async () => {
    const store = createRedisStore({ connection: sentinel.connection, keyPrefix: uniquePrefix() });
    const t = await startTestServer({ store, alg: "ES256" });
    try {
      const api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
      const c = await api.register("org_failover");
      // Replication is asynchronous: a write after the client's, acknowledged by the replica,
      // makes sure the replica has the client (and the issuer's state) before the primary dies.
      const oldPrimary = await sentinel.primaryPort();
      const fence = new Redis({ port: oldPrimary, host: "127.0.0.1", lazyConnect: true });
      await fence.connect();
      await fence.set(`${uniquePrefix()}fence`, "1");
      expect(await fence.wait(1, 2_000)).toBe(1);
      fence.disconnect();

      const answers: Answer[] = [];
      let running = true;
      const worker = async () => {
        while (running) {
          const res = await fetch(`${t.url}/oauth/token`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ grant_type: "client_credentials", client_id: c.id, client_secret: c.secret }),
          });
          answers.push({ at: Date.now(), status: res.status, body: await res.text(), retryAfter: res.headers.get("retry-after") });
          await sleep(10);
        }
      };
      const workers = Array.from({ length: 4 }, worker);
      try {
        while (answers.filter((a) => a.status === 200).length < 10) await sleep(20);
        const stoppedAt = Date.now();
        await sentinel.stopPrimary();
        // Bounded: the Sentinels must promote the replica, and the service must answer 200 after that.
        let promotedAt = 0;
        while (Date.now() - stoppedAt < recoveryLimitMs) {
          if (promotedAt === 0 && (await sentinel.primaryPort()) !== oldPrimary) promotedAt = Date.now();
          if (promotedAt !== 0 && answers.some((a) => a.at > promotedAt && a.status === 200)) break;
          await sleep(50);
        }
        expect(promotedAt, "the Sentinels promoted the replica").toBeGreaterThan(0);
        const recovered = answers.find((a) => a.at > promotedAt && a.status === 200);
        expect(recovered?.at, `a 200 within ${recoveryLimitMs / 1000} s of stopping the primary`).toBeLessThan(stoppedAt + recoveryLimitMs);
      } finally {
        running = false;
        await Promise.all(workers);
      }
      for (const answer of answers.filter((a) => a.status !== 200)) {
        expect(answer.status).toBe(503);
        expect(JSON.parse(answer.body)).toMatchObject({ error: "temporarily_unavailable" });
        expect(answer.retryAfter).toMatch(/^\d+$/);
      }
      // Writes reach the new primary too.
      const after = await api.register("org_failover");
      await getToken(t.url, after.id, after.secret);
      expect(await sentinel.primaryPort()).not.toBe(oldPrimary);
    } finally {
      await t.close();
      await store.close();
    }
  });
});
