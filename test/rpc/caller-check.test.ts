import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientRecordSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { managementApi, registerSeedApi, type ManagementApi } from "../support/management-api.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

// A management call re-reads its caller: a token outlives its client's deletion or downgrade by
// up to its lifetime, but its management powers do not outlive them by one call.

let proxy: TcpProxy;
let t: TestServer;
let env: ManagementApi;
let envToken: string;

const adminScopes = ["m2m:clients:read", "m2m:clients:write"];

/** orgAdmin registers an organization admin with `scopes` and returns its id and a token it got. */
async function orgAdmin(organizationId: string, scopes: string[]): Promise<{ id: string; token: string; api: ManagementApi }> {
  const created = await env.register(organizationId, { name: "org admin", scopes, audience: [t.issuer] });
  const token = await getToken(t.url, created.id, created.secret);
  return { id: created.id, token, api: managementApi(t.url, token) };
}

function rpc(token: string, protocol: "connect" | "grpc" = "connect") {
  const transport = protocol === "grpc" ? createGrpcTransport({ baseUrl: t.url }) : createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" });
  const headers = { authorization: `Bearer ${token}` };
  const clients = createClient(OrganizationClientService, transport);
  const keys = createClient(SigningKeyService, transport);
  return {
    list: (organizationId: string) => clients.listOrganizationClients({ organizationId }, { headers }).catch((e: unknown) => ConnectError.from(e)),
    create: (organizationId: string) =>
      clients
        .createOrganizationClient({ organizationId, client: { name: "x", scopes: ["read:x"], audience: ["api.example.com"] } }, { headers })
        .catch((e: unknown) => ConnectError.from(e)),
    listKeys: () => keys.listSigningKeys({}, { headers }).catch((e: unknown) => ConnectError.from(e)),
  };
}

beforeAll(async () => {
  const redis = new URL(testRedisUrl());
  proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
  t = await startTestServer({ store: createRedisStore({ url: proxy.url, keyPrefix: uniquePrefix() }) });
  envToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  env = managementApi(t.url, envToken);
  // Organization admins grant only registered APIs (resource-server-grants.test.ts).
  await registerSeedApi(t.url, envToken);
});
afterAll(async () => {
  await t.close();
  await t.store.close();
  await proxy.down().catch(() => undefined);
});

describe("the caller check", () => {
  it("refuses a deleted organization admin's still-valid token at once, over REST, Connect and gRPC", async () => {
    const admin = await orgAdmin("org_del", adminScopes);
    expect((await admin.api.call("GET", "org_del/clients")).status).toBe(200);
    expect((await env.call("DELETE", `org_del/clients/${admin.id}`)).status).toBe(200);

    const res = await fetch(`${t.url}/api/v1/organizations/org_del/clients`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
    expect((await admin.api.call("POST", "org_del/clients", seedClient)).status).toBe(401);
    for (const protocol of ["connect", "grpc"] as const) {
      const err = await rpc(admin.token, protocol).create("org_del");
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unauthenticated);
      // The client interceptor may re-send such a refusal: the handler never ran.
      expect((err as ConnectError).metadata.get("m2m-auth-refused")).toBe("before-handler");
    }
    // Nothing was created by the refused calls.
    expect((await env.call("GET", "org_del/clients")).json.clients).toEqual([]);
  });

  it("refuses a token whose client id now names a client outside the token's organization", async () => {
    const admin = await orgAdmin("org_moved", adminScopes);
    expect((await env.call("DELETE", `org_moved/clients/${admin.id}`)).status).toBe(200);
    // The id now names a client of no organization, holding every scope the token has.
    const record = create(ClientRecordSchema, { client: { clientId: admin.id, organizationId: "", scopes: adminScopes, audience: [t.issuer] } });
    expect(await t.store.clients.create(record)).toBe(true);
    const err = await rpc(admin.token).list("org_moved");
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect((err as ConnectError).metadata.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
  });

  it("refuses a downgraded admin's writes at once, keeps its reads, and lets it grant only what it still holds", async () => {
    const admin = await orgAdmin("org_down", [...adminScopes, "m2m:keys:read"]);
    const target = await admin.api.register("org_down");
    // Its token still says m2m:keys:read; the store no longer does.
    expect((await env.call("PATCH", `org_down/clients/${admin.id}`, { scopes: adminScopes })).status).toBe(200);
    const keyReader = await admin.api.call("POST", "org_down/clients", { ...seedClient, scopes: ["m2m:keys:read"], audience: [t.issuer] });
    expect(keyReader.status).toBe(403);
    expect(keyReader.json.message).toContain("cannot grant scopes the caller does not hold: m2m:keys:read");
    // An admin (every scope it holds now) can still be made: it grants no more than its maker holds.
    expect((await admin.api.call("POST", "org_down/clients", { name: "peer", scopes: adminScopes, audience: [t.issuer] })).status).toBe(201);

    // Write taken away: every write refused with the RFC 6750 challenge; reads still answer.
    expect((await env.call("PATCH", `org_down/clients/${admin.id}`, { scopes: ["m2m:clients:read"] })).status).toBe(200);
    const before = (await env.call("GET", "org_down/clients")).json.total_size;
    const create = await fetch(`${t.url}/api/v1/organizations/org_down/clients`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "new admin", scopes: adminScopes, audience: [t.issuer] }),
    });
    expect(create.status).toBe(403);
    expect(create.headers.get("www-authenticate")).toMatch(/error="insufficient_scope".*scope="m2m:clients:write"/);
    expect((await admin.api.call("PATCH", `org_down/clients/${target.id}`, { name: "renamed" })).status).toBe(403);
    expect((await admin.api.call("POST", `org_down/clients/${target.id}/secrets`)).status).toBe(403);
    expect((await admin.api.call("DELETE", `org_down/clients/${target.id}`)).status).toBe(403);
    const err = await rpc(admin.token).create("org_down");
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect((err as ConnectError).metadata.get("m2m-auth-refused")).toBe("before-handler");
    expect((await env.call("GET", "org_down/clients")).json.total_size).toBe(before);

    expect((await admin.api.call("GET", `org_down/clients/${target.id}`)).status).toBe(200);
    const list = await rpc(admin.token).list("org_down");
    expect(list).not.toBeInstanceOf(ConnectError);
  });

  it("leaves the environment's admin unaffected, and fails closed and retryable when the store cannot say who an org admin is", async () => {
    expect((await env.call("GET", "org_down/clients")).status).toBe(200);
    const admin = await orgAdmin("org_dark", adminScopes);
    await proxy.down();
    try {
      // The environment's admin is kept beside the store: its key calls work while Redis is gone.
      expect(await rpc(envToken).listKeys()).not.toBeInstanceOf(ConnectError);
      const err = await rpc(admin.token).list("org_dark");
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      // Refused by the check, before any handler touched the store.
      expect((err as ConnectError).metadata.get("m2m-auth-refused")).toBe("before-handler");
      expect((err as ConnectError).rawMessage).not.toMatch(/ECONNREFUSED|redis/i);
      const res = await fetch(`${t.url}/api/v1/organizations/org_dark/clients`, { headers: { authorization: `Bearer ${admin.token}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
    } finally {
      await proxy.up();
    }
  });
});
