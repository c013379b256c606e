import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../../src/store/redis-store.js";
import type { RestBody } from "../support/management-api.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// Two instances on one Redis, each with the token path's record cache on (the default): what a
// write on one changes stops working on the other within a second (in practice, milliseconds).

let a: TestServer;
let b: TestServer;
let admin: string;
const org = "org_cache";

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: RestBody }> {
  const res = await fetch(`${a.url}/api/v1/organizations/${org}/${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as RestBody };
}

async function token(url: string, id: string, secret: string, scope?: string): Promise<{ status: number; error?: string }> {
  const res = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: id, client_secret: secret, ...(scope ? { scope } : {}) }),
  });
  const json = (await res.json()) as { error?: string };
  return { status: res.status, ...(json.error ? { error: json.error } : {}) };
}

/** refusedWithin polls instance b until `request` is refused and returns how long that took. */
async function refusedWithin(request: () => Promise<{ status: number; error?: string }>, error: string): Promise<number> {
  const start = performance.now();
  for (;;) {
    const answer = await request();
    if (answer.status !== 200) {
      expect(answer.error).toBe(error);
      return performance.now() - start;
    }
    if (performance.now() - start > 2_000) throw new Error(`still issued after 2 s; expected ${error}`);
  }
}

beforeAll(async () => {
  const prefix = uniquePrefix();
  a = await startTestServer({ store: createRedisStore({ url: testRedisUrl(), keyPrefix: prefix }) });
  b = await startTestServer({ store: createRedisStore({ url: testRedisUrl(), keyPrefix: prefix }) });
  admin = await getToken(a.url, a.admin.clientId, a.admin.clientSecret);
});
afterAll(async () => {
  for (const t of [a, b]) {
    await t.close();
    await t.store.close();
  }
});

describe("token path record cache across instances", () => {
  it("stops a deleted secret, a narrowed scope and a deleted client on the other instance within 1 s", async () => {
    const created = await api("POST", "clients", seedClient);
    expect(created.status).toBe(201);
    const id = created.json.client.client_id;
    const first = created.json.plain_secret;
    const firstId = created.json.client.secrets[0]!.id;
    // Warm b's copy of the record.
    for (let i = 0; i < 5; i++) expect((await token(b.url, id, first, "deploy:applications")).status).toBe(200);

    const second = (await api("POST", `clients/${id}/secrets`)).json.plain_secret;
    expect((await api("DELETE", `clients/${id}/secrets/${firstId}`)).status).toBe(200);
    const secretGone = await refusedWithin(() => token(b.url, id, first), "invalid_client");
    expect((await token(b.url, id, second)).status).toBe(200);

    expect((await api("PATCH", `clients/${id}`, { scopes: ["read:deployments"] })).status).toBe(200);
    const scopeGone = await refusedWithin(() => token(b.url, id, second, "deploy:applications"), "invalid_scope");

    expect((await api("DELETE", `clients/${id}`)).status).toBe(200);
    const clientGone = await refusedWithin(() => token(b.url, id, second), "invalid_client");
    expect(Math.max(secretGone, scopeGone, clientGone)).toBeLessThan(1_000);
  });
});
