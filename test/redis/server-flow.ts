import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";
import type { Store } from "../../src/store/client-store.js";
import type { RedisConnectionOptions } from "../../src/store/redis-connection.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { uniquePrefix } from "../support/redis.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// The whole service on one Redis deployment, as an operator's first day would drive it.

/** RestClient is a client's REST JSON, as far as this flow reads it. */
interface RestClient {
  client_id: string;
  name: string;
  create_time: string;
  secrets: { id: string; last_used_time?: string }[];
}

/** clientOf reads the client of a REST answer's body. */
const clientOf = (json: unknown): RestClient => (json as { client: RestClient }).client;

/** plainSecretOf reads the new secret of an "add a secret" answer's body. */
const plainSecretOf = (json: unknown): string => (json as { plain_secret: string }).plain_secret;

/** verifyWithJwks checks `token` against the server's JWKS as a resource server would, and returns its claims. */
async function verifyWithJwks(t: TestServer, token: string): Promise<Record<string, unknown>> {
  const jwks = createLocalJWKSet((await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet);
  const { payload } = await jwtVerify(token, jwks, { issuer: t.issuer, audience: seedClient.audience[0], typ: "at+jwt" });
  return payload;
}

/** describeServerFlow runs the end-to-end flow against a server whose store is on `connection()`. */
export function describeServerFlow(name: string, connection: () => RedisConnectionOptions): void {
  describe(`${name}: the service end to end`, () => {
    let store: Store;
    let t: TestServer;
    let api: ManagementApi;
    // A second instance on the same deployment and prefix, its token path answered from its cache.
    let otherStore: Store;
    let other: TestServer;
    beforeAll(async () => {
      const keyPrefix = uniquePrefix();
      store = createRedisStore({ connection: connection(), keyPrefix });
      t = await startTestServer({ store, usageFlushIntervalMs: 20 });
      otherStore = createRedisStore({ connection: connection(), keyPrefix });
      other = await startTestServer({ store: otherStore });
      api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
    });
    afterAll(async () => {
      await other?.close();
      await otherStore?.close();
      await t?.close();
      await store?.close();
    });

    it("a second instance stops a deleted secret and a deleted client within 1 s, whatever node their slot is on", async () => {
      // Several organizations, so on a Cluster the writes' announcements come from several masters.
      const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => api.register(`org_cache_${i}`)));
      const refused = async (id: string, secret: string): Promise<number> => {
        const start = performance.now();
        while (
          (await getToken(other.url, id, secret).then(
            () => true,
            () => false,
          )) &&
          performance.now() - start < 2_000
        )
          continue;
        return performance.now() - start;
      };
      const waits: number[] = [];
      for (const [i, c] of clients.entries()) {
        // Warm the other instance's copy, then delete through the first instance.
        await getToken(other.url, c.id, c.secret);
        if (i % 2 === 0) {
          const added = await api.call("POST", `org_cache_${i}/clients/${c.id}/secrets`);
          expect((await api.call("DELETE", `org_cache_${i}/clients/${c.id}/secrets/${(c.client as RestClient).secrets[0]!.id}`)).status).toBe(200);
          waits.push(await refused(c.id, c.secret));
          await getToken(other.url, c.id, plainSecretOf(added.json));
        } else {
          expect((await api.call("DELETE", `org_cache_${i}/clients/${c.id}`)).status).toBe(200);
          waits.push(await refused(c.id, c.secret));
        }
      }
      expect(Math.max(...waits)).toBeLessThan(1_000);
    });

    it("registers a client over REST and issues it a token that verifies with the JWKS", async () => {
      const c = await api.register("org_flow");
      const claims = await verifyWithJwks(t, await getToken(t.url, c.id, c.secret));
      expect(claims).toMatchObject({ sub: c.id, client_id: c.id, scope: seedClient.scopes.join(" ") });
      const client = clientOf((await api.call("GET", `org_flow/clients/${c.id}`)).json);
      expect(client).toMatchObject({ client_id: c.id, name: seedClient.name, create_time: (c.client as RestClient).create_time });
    });

    it("rotates a secret: add a new one, delete the old; the old fails, the new works", async () => {
      const c = await api.register("org_flow");
      const added = await api.call("POST", `org_flow/clients/${c.id}/secrets`);
      expect(added.status).toBe(201);
      await getToken(t.url, c.id, c.secret);
      expect((await api.call("DELETE", `org_flow/clients/${c.id}/secrets/${(c.client as RestClient).secrets[0]!.id}`)).status).toBe(200);
      await expect(getToken(t.url, c.id, c.secret)).rejects.toThrow(/401/);
      await verifyWithJwks(t, await getToken(t.url, c.id, plainSecretOf(added.json)));
    });

    it("rotates the signing key: new tokens carry the new key, and old and new verify with the JWKS", async () => {
      const c = await api.register("org_flow");
      const before = await getToken(t.url, c.id, c.secret);
      const keys = createClient(SigningKeyService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
      const admin = { headers: { authorization: `Bearer ${await getToken(t.url, t.admin.clientId, t.admin.clientSecret)}` } };
      // Forced: the ring was made moments ago, and no verifier here caches the JWKS.
      const rotated = await keys.rotateSigningKey({ force: true }, admin);
      expect(rotated.key?.kid).not.toBe(decodeProtectedHeader(before).kid);
      const after = await getToken(t.url, c.id, c.secret);
      expect(decodeProtectedHeader(after).kid).toBe(rotated.key?.kid);
      await verifyWithJwks(t, after);
      await verifyWithJwks(t, before);
    });

    it("lists 60 clients in pages of 25, each exactly once", async () => {
      const org = "org_many";
      const registered: string[] = [];
      // In batches, so the registrations do not all wait on one another's secret hashing.
      for (let i = 0; i < 60; i += 10) {
        const batch = await Promise.all(Array.from({ length: 10 }, (_, j) => api.register(org, { ...seedClient, name: `client ${i + j}` })));
        registered.push(...batch.map((c) => c.id));
      }
      const { ids, pageSizes, totals } = await api.listAll(org, 25);
      expect(pageSizes).toEqual([25, 25, 10]);
      expect(totals).toEqual([60, 60, 60]);
      expect(new Set(ids).size).toBe(60);
      expect([...ids].sort()).toEqual([...registered].sort());
    });

    it("records the last use of secrets of clients of many organizations", async () => {
      const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => api.register(`org_use_${i}`)));
      for (const c of clients) expect(decodeJwt(await getToken(t.url, c.id, c.secret)).sub).toBe(c.id);
      const lastUsed = async (c: (typeof clients)[number], i: number) =>
        clientOf((await api.call("GET", `org_use_${i}/clients/${c.id}`)).json).secrets[0]!.last_used_time;
      let used: (string | undefined)[] = [];
      for (let attempt = 0; attempt < 50; attempt++) {
        used = await Promise.all(clients.map(lastUsed));
        if (used.every(Boolean)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(used.every(Boolean)).toBe(true);
    });
  });
}
