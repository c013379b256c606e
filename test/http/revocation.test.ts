import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { maxClockSkewSeconds } from "../../src/rules.js";
import { maxLiveRevocationsPerOrganization } from "../../src/store/client-record-codec.js";
import type { Store } from "../../src/store/client-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { managementApi, type RegisteredClient } from "../support/management-api.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// RFC 7009 revocation over HTTP: two instances on one Redis, as in production behind a balancer.

const prefix = uniquePrefix();
const stores = [createRedisStore({ url: testRedisUrl(), keyPrefix: prefix }), createRedisStore({ url: testRedisUrl(), keyPrefix: prefix })];
let a: TestServer;
let b: TestServer;
let owner: RegisteredClient;
let other: RegisteredClient;
let raw: Redis;
// The deny list: one sorted set, jti scored by when its denial ends (ms).
const listKey = `${prefix}{revoked}:revoked-tokens`;

async function post(server: TestServer, path: string, who: { id: string; secret: string }, token: string) {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: who.id, client_secret: who.secret, token }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
const revoke = (server: TestServer, who: { id: string; secret: string }, token: string) => post(server, "/oauth/revoke", who, token);
async function active(server: TestServer, who: { id: string; secret: string }, token: string): Promise<boolean> {
  return (JSON.parse((await post(server, "/oauth/introspect", who, token)).text) as { active: boolean }).active;
}
const validate = (server: TestServer, token: string) =>
  createClient(TokenService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })).validateToken({ token });

beforeAll(async () => {
  const [storeA, storeB] = stores as [Store, Store];
  [a, b] = await Promise.all([startTestServer({ store: storeA }), startTestServer({ store: storeB })]);
  raw = new Redis(testRedisUrl());
  const api = managementApi(a.url, await getToken(a.url, a.admin.clientId, a.admin.clientSecret));
  owner = await api.register("org_revoke");
  other = await api.register("org_revoke", { ...seedClient, name: "Another client" });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await Promise.all(stores.map((store) => store.close()));
  await raw?.quit();
});

describe("POST /oauth/revoke", () => {
  it("revokes the caller's own token: inactive on the other instance within a second, ValidateToken too", async () => {
    const token = await getToken(a.url, owner.id, owner.secret);
    expect(await active(b, owner, token)).toBe(true);
    const res = await revoke(a, owner, token);
    // RFC 7009 §2.2: 200, and the body carries nothing.
    expect([res.status, res.text, res.headers.get("cache-control")]).toEqual([200, "", "no-store"]);
    const start = Date.now();
    expect(await active(b, owner, token)).toBe(false);
    expect(Date.now() - start).toBeLessThan(1000);
    expect(await validate(b, token)).toMatchObject({ valid: false, reason: "token revoked" });
    expect(await validate(a, token)).toMatchObject({ valid: false, reason: "token revoked" });
    // Another token of the same client is untouched.
    expect(await active(b, owner, await getToken(a.url, owner.id, owner.secret))).toBe(true);
  });

  it("denies the jti until the token's exp plus the largest verifier skew, then Redis forgets it", async () => {
    const token = await getToken(a.url, owner.id, owner.secret);
    const { jti, exp } = decodeJwt(token) as { jti: string; exp: number };
    await revoke(b, owner, token);
    const until = Number(await raw.zscore(listKey, jti));
    expect(Math.abs(until - (exp + maxClockSkewSeconds) * 1000)).toBeLessThan(5000);
    // The list expires with its last entry, so nothing outlives the tokens it denies.
    const ttl = await raw.pttl(listKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(Number((await raw.zrange(listKey, "-1", "-1", "WITHSCORES"))[1]) - Date.now() + 5000);
  });

  it("silently ignores another client's token (RFC 7009 §2.2): 200, and the token stays active", async () => {
    const token = await getToken(a.url, owner.id, owner.secret);
    const res = await revoke(a, other, token);
    expect([res.status, res.text]).toEqual([200, ""]);
    expect(await active(b, owner, token)).toBe(true);
  });

  it("answers 200 for an invalid token, and changes nothing", async () => {
    const before = await raw.zrange(listKey, "0", "-1");
    for (const bad of ["garbage", "a.b.c"]) expect((await revoke(a, owner, bad)).status).toBe(200);
    expect(await raw.zrange(listKey, "0", "-1")).toEqual(before);
  });

  it("lets the environment's admin cut off any client's token", async () => {
    const token = await getToken(a.url, owner.id, owner.secret);
    expect((await revoke(b, { id: a.admin.clientId, secret: a.admin.clientSecret }, token)).status).toBe(200);
    expect(await active(a, owner, token)).toBe(false);
  });

  it("refuses an unauthenticated caller with 401 invalid_client, and revokes nothing", async () => {
    const token = await getToken(a.url, owner.id, owner.secret);
    const res = await revoke(a, { id: owner.id, secret: "wrong" }, token);
    expect([res.status, (JSON.parse(res.text) as { error: string }).error]).toEqual([401, "invalid_client"]);
    expect(await active(b, owner, token)).toBe(true);
  });
});

describe("GET /oauth/revoked", () => {
  const list = async (server: TestServer) => {
    const res = await fetch(`${server.url}/oauth/revoked`);
    return { status: res.status, headers: res.headers, body: (await res.json()) as { revoked: { jti: string; exp: number }[] } };
  };

  it("lists a token revoked on one instance from the other at once, with when its denial ends, publicly cacheable for 5 s", async () => {
    const token = await getToken(a.url, owner.id, owner.secret);
    const { jti, exp } = decodeJwt(token) as { jti: string; exp: number };
    expect((await list(b)).body.revoked.map((entry) => entry.jti)).not.toContain(jti);
    await revoke(a, owner, token);
    const res = await list(b);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=5");
    expect(res.headers.get("content-type")).toBe("application/json");
    const entry = res.body.revoked.find((e) => e.jti === jti);
    expect(entry).toBeDefined();
    expect(Math.abs((entry?.exp ?? 0) - (exp + maxClockSkewSeconds))).toBeLessThanOrEqual(5);
    // Only the two fields, and the metadata names the document.
    expect(Object.keys(entry ?? {}).sort()).toEqual(["exp", "jti"]);
    const meta = (await (await fetch(`${b.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta["revocation_list_uri"]).toBe(`${b.issuer}/oauth/revoked`);
  });

  it("is read-only: any other method is 405", async () => {
    const res = await fetch(`${a.url}/oauth/revoked`, { method: "POST" });
    expect([res.status, res.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
  });
});

describe("one organization's share of the deny list", () => {
  it(`is ${maxLiveRevocationsPerOrganization} live revocations: past it 429 temporarily_unavailable with Retry-After, the token stays active; others still revoke`, async () => {
    const api = managementApi(a.url, await getToken(a.url, a.admin.clientId, a.admin.clientSecret));
    const tenant = await api.register("org_revoke_many");
    const tokens = await Promise.all(Array.from({ length: maxLiveRevocationsPerOrganization + 1 }, () => getToken(a.url, tenant.id, tenant.secret)));
    const statuses = [];
    for (let i = 0; i < tokens.length; i += 50) {
      const batch = await Promise.all(tokens.slice(i, i + 50).map((token) => revoke(i % 100 === 0 ? a : b, tenant, token)));
      statuses.push(...batch.map((answer) => answer.status));
    }
    expect(statuses.filter((status) => status === 200).length).toBe(maxLiveRevocationsPerOrganization);
    expect(statuses.filter((status) => status === 429).length).toBe(1);
    const refusedToken = tokens[statuses.indexOf(429)];
    const refused = await revoke(b, tenant, refusedToken as string);
    expect([refused.status, (JSON.parse(refused.text) as { error: string }).error]).toEqual([429, "temporarily_unavailable"]);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await active(a, tenant, refusedToken as string)).toBe(true);
    // A token it revoked already may be revoked again: the share does not grow.
    expect((await revoke(b, tenant, tokens[statuses.indexOf(200)] as string)).status).toBe(200);
    // Another organization, and the environment's admin, revoke as before.
    expect((await revoke(a, owner, await getToken(a.url, owner.id, owner.secret))).status).toBe(200);
    const adminToken = await getToken(a.url, a.admin.clientId, a.admin.clientSecret);
    expect((await revoke(a, { id: a.admin.clientId, secret: a.admin.clientSecret }, adminToken)).status).toBe(200);
  });
});
