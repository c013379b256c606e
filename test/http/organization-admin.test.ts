import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import type { RestBody } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// An organization's own admin client manages that organization only; the environment's admin all.

let t: TestServer;
let envAdmin: string;
let orgAdmin: string;

async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: RestBody }> {
  const res = await fetch(`${t.url}/api/v1/organizations/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as RestBody };
}

beforeAll(async () => {
  t = await startTestServer();
  envAdmin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  // An organization's admin grants only registered APIs and scopes (resource-server-grants.test.ts).
  const registered = await fetch(`${t.url}/api/v1/resource-servers`, {
    method: "POST",
    headers: { authorization: `Bearer ${envAdmin}`, "content-type": "application/json" },
    body: JSON.stringify({ audience: seedClient.audience[0], name: "Deployment API", scopes: seedClient.scopes.map((name) => ({ name })) }),
  });
  expect(registered.status).toBe(201);
  const created = await api("POST", "org_a/clients", envAdmin, {
    name: "org A admin",
    scopes: ["m2m:clients:read", "m2m:clients:write"],
    audience: [t.issuer],
  });
  expect(created.status).toBe(201);
  orgAdmin = await getToken(t.url, created.json.client.client_id, created.json.plain_secret);
});
afterAll(() => t.close());

describe("organization-scoped administration", () => {
  it("manages its own organization", async () => {
    const c = await api("POST", "org_a/clients", orgAdmin, seedClient);
    expect(c.status).toBe(201);
    expect((await api("GET", `org_a/clients/${c.json.client.client_id}`, orgAdmin)).status).toBe(200);
    expect((await api("PATCH", `org_a/clients/${c.json.client.client_id}`, orgAdmin, { name: "x" })).status).toBe(200);
    expect((await api("POST", `org_a/clients/${c.json.client.client_id}/secrets`, orgAdmin)).status).toBe(201);
    expect((await api("DELETE", `org_a/clients/${c.json.client.client_id}`, orgAdmin)).status).toBe(200);
  });

  it("is refused in any other organization, both ways", async () => {
    const b = await api("POST", "org_b/clients", envAdmin, seedClient);
    const bId = b.json.client.client_id;
    for (const [method, path, body] of [
      ["GET", "org_b/clients", undefined],
      ["POST", "org_b/clients", seedClient],
      ["GET", `org_b/clients/${bId}`, undefined],
      ["PATCH", `org_b/clients/${bId}`, { name: "hijack" }],
      ["DELETE", `org_b/clients/${bId}`, undefined],
      ["POST", `org_b/clients/${bId}/secrets`, undefined],
    ] as const) {
      const res = await api(method, path, orgAdmin, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.code).toBe("permission_denied");
    }
    // Through its own organization's path, another organization's client does not exist.
    expect((await api("GET", `org_a/clients/${bId}`, orgAdmin)).status).toBe(404);
    expect((await api("DELETE", `org_a/clients/${bId}`, orgAdmin)).status).toBe(404);
    expect((await api("GET", `org_b/clients/${bId}`, envAdmin)).json.client.name).toBe(seedClient.name);
    const rpc = createClient(OrganizationClientService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const err = await rpc
      .listOrganizationClients({ organizationId: "org_b" }, { headers: { authorization: `Bearer ${orgAdmin}` } })
      .catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
  });

  it("grants m2m scopes only that the caller holds", async () => {
    const keys = await api("POST", "org_a/clients", orgAdmin, { ...seedClient, scopes: ["m2m:keys:write"] });
    expect(keys.status).toBe(403);
    expect(keys.json.message).toContain("m2m:keys:write");
    const reader = await api("POST", "org_a/clients", orgAdmin, { ...seedClient, scopes: ["m2m:clients:read"], audience: [t.issuer] });
    expect(reader.status).toBe(201);
    // A reader cannot be raised to writer... by someone who is not a writer: the org admin is one.
    const raised = await api("PATCH", `org_a/clients/${reader.json.client.client_id}`, orgAdmin, { scopes: ["m2m:clients:read", "m2m:keys:read"] });
    expect(raised.status).toBe(403);
    // The environment's admin holds every scope and may grant them.
    const keyReader = await api("POST", "org_a/clients", envAdmin, { ...seedClient, scopes: ["m2m:keys:read"] });
    expect(keyReader.status).toBe(201);
    // …and a client holding a service scope the org admin lacks is beyond the org admin's reach:
    // a secret added to it, or an edit, would hand over that scope.
    const id = keyReader.json.client.client_id;
    for (const [method, path, body] of [
      ["POST", `org_a/clients/${id}/secrets`, undefined],
      ["PATCH", `org_a/clients/${id}`, { audience: [t.issuer] }],
      ["DELETE", `org_a/clients/${id}`, undefined],
      ["DELETE", `org_a/clients/${id}/secrets/${keyReader.json.client.secrets[0]!.id}`, undefined],
    ] as const) {
      const res = await api(method, path, orgAdmin, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.message).toContain("m2m:keys:read");
    }
    expect((await api("GET", `org_a/clients/${id}`, orgAdmin)).json.client.secrets).toHaveLength(1);
  });

  it("refuses custom claims that verifiers would read as permissions", async () => {
    for (const key of ["scp", "roles", "groups", "entitlements", "kid"]) {
      const res = await api("POST", "org_a/clients", orgAdmin, { ...seedClient, custom_claims: [{ key, value: "m2m:keys:write" }] });
      expect(res.status, key).toBe(400);
      expect(res.json.message).toContain("custom_claims[0].key");
    }
  });
});
