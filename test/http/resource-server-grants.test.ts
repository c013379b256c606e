import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// What a client may be granted, on create and PATCH alike, by the environment's admin and by an
// organization's admin, before and after APIs are registered (clients/grant-rules.ts).

interface Body {
  client: { client_id: string; scopes: string[]; audience: string[] };
  plain_secret: string;
  resource_server: { id: string };
  code: string;
  message: string;
}

type Api = (method: string, path: string, token: string, body?: unknown) => Promise<{ status: number; json: Body }>;

function apiOf(t: TestServer): Api {
  return async (method, path, token, body) => {
    const res = await fetch(`${t.url}/api/v1/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Body };
  };
}

// The environment's admin token, and an admin of org_a (m2m:clients:* and the issuer as audience).
async function admins(t: TestServer, api: Api): Promise<{ env: string; org: string }> {
  const env = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  const created = await api("POST", "organizations/org_a/clients", env, {
    name: "org A admin",
    scopes: ["m2m:clients:read", "m2m:clients:write"],
    audience: [t.issuer],
  });
  expect(created.status).toBe(201);
  return { env, org: await getToken(t.url, created.json.client.client_id, created.json.plain_secret) };
}

function expectRefused(res: { status: number; json: Body }, field: string, ...values: string[]): void {
  expect(res.status, JSON.stringify(res.json)).toBe(400);
  expect(res.json.code).toBe("invalid_argument");
  expect(res.json.message.startsWith(`${field}: `)).toBe(true);
  for (const value of values) expect(res.json.message).toContain(value);
}

describe("before any API is registered", () => {
  let t: TestServer;
  let api: Api;
  let token: { env: string; org: string };
  beforeAll(async () => {
    t = await startTestServer();
    api = apiOf(t);
    token = await admins(t, api);
  });
  afterAll(() => t.close());

  it("lets the environment's admin walk the seed flow unchanged: any audience and scope, create and PATCH", async () => {
    const created = await api("POST", "organizations/org_seed/clients", token.env, seedClient);
    expect(created.status).toBe(201);
    const id = created.json.client.client_id;
    const patched = await api("PATCH", `organizations/org_seed/clients/${id}`, token.env, { scopes: ["admin:everything"], audience: ["billing-api.internal"] });
    expect(patched.status).toBe(200);
    expect(await getToken(t.url, id, created.json.plain_secret)).toMatch(/^ey/);
  });

  it("refuses an organization's admin any API scope or audience: an environment admin must register it first", async () => {
    // The attack: an organization's admin grants itself admin:everything for another API.
    const attack = await api("POST", "organizations/org_a/clients", token.org, {
      ...seedClient,
      scopes: ["admin:everything"],
      audience: ["billing-api.internal"],
    });
    expectRefused(attack, "audience", "billing-api.internal", "no API is registered yet", "POST /api/v1/resource-servers");
    const scopeOnly = await api("POST", "organizations/org_a/clients", token.org, { ...seedClient, scopes: ["admin:everything"], audience: [t.issuer] });
    expectRefused(scopeOnly, "scopes", "admin:everything", "environment admin must register the API first");
    // The management API itself stays grantable to whoever holds its scopes.
    const reader = await api("POST", "organizations/org_a/clients", token.org, { ...seedClient, scopes: ["m2m:clients:read"], audience: [t.issuer] });
    expect(reader.status).toBe(201);
    const patched = await api("PATCH", `organizations/org_a/clients/${reader.json.client.client_id}`, token.org, { audience: ["deployment-api.acmecorp.com"] });
    expectRefused(patched, "audience", "deployment-api.acmecorp.com");
  });
});

describe("once APIs are registered", () => {
  let t: TestServer;
  let api: Api;
  let token: { env: string; org: string };
  let deploymentId: string;
  beforeAll(async () => {
    t = await startTestServer({ backend: "memory" });
    api = apiOf(t);
    token = await admins(t, api);
    const deployment = await api("POST", "resource-servers", token.env, {
      audience: "deployment-api.acmecorp.com",
      name: "Deployment API",
      scopes: [{ name: "deploy:applications" }, { name: "read:deployments" }],
    });
    deploymentId = deployment.json.resource_server.id;
    const billing = await api("POST", "resource-servers", token.env, {
      audience: "billing-api.internal",
      name: "Billing API",
      scopes: [{ name: "billing:read" }],
      organization_ids: ["org_billing"],
    });
    expect([deployment.status, billing.status]).toEqual([201, 201]);
  });
  afterAll(() => t.close());

  it("holds the environment's admin to registered audiences and the scopes they define", async () => {
    expect((await api("POST", "organizations/org_seed/clients", token.env, seedClient)).status).toBe(201);
    expectRefused(
      await api("POST", "organizations/org_seed/clients", token.env, { ...seedClient, audience: ["unknown-api.example.com"] }),
      "audience",
      "unknown-api.example.com",
      "not a registered API",
    );
    expectRefused(
      await api("POST", "organizations/org_seed/clients", token.env, { ...seedClient, scopes: ["deploy:applications", "admin:everything"] }),
      "scopes",
      "admin:everything",
    );
    // A scope of another API is not granted through this one.
    expectRefused(await api("POST", "organizations/org_billing/clients", token.env, { ...seedClient, scopes: ["billing:read"] }), "scopes", "billing:read");
    // The management API needs no registration; its scopes follow the caller's own.
    const mixed = { ...seedClient, scopes: ["m2m:clients:read", "deploy:applications"], audience: [t.issuer, "deployment-api.acmecorp.com"] };
    expect((await api("POST", "organizations/org_seed/clients", token.env, mixed)).status).toBe(201);
  });

  it("keeps an API limited to some organizations from every other organization's clients", async () => {
    const billing = { ...seedClient, scopes: ["billing:read"], audience: ["billing-api.internal"] };
    expect((await api("POST", "organizations/org_billing/clients", token.env, billing)).status).toBe(201);
    expectRefused(
      await api("POST", "organizations/org_a/clients", token.env, billing),
      "audience",
      "billing-api.internal",
      "not available to organization org_a",
    );
    expectRefused(await api("POST", "organizations/org_a/clients", token.org, billing), "audience", "billing-api.internal", "org_a");
  });

  it("lets an organization's admin grant registered APIs and scopes only, on create and PATCH", async () => {
    const created = await api("POST", "organizations/org_a/clients", token.org, seedClient);
    expect(created.status).toBe(201);
    const path = `organizations/org_a/clients/${created.json.client.client_id}`;
    expectRefused(await api("PATCH", path, token.org, { scopes: ["deploy:applications", "admin:everything"] }), "scopes", "admin:everything");
    expectRefused(await api("PATCH", path, token.org, { audience: ["billing-api.internal"] }), "audience", "billing-api.internal");
    expectRefused(await api("PATCH", path, token.org, { audience: ["elsewhere.example.com"] }), "audience", "elsewhere.example.com");
    expect((await api("PATCH", path, token.org, { scopes: ["read:deployments"] })).json.client.scopes).toEqual(["read:deployments"]);
    expect((await api("GET", path, token.org)).json.client.audience).toEqual(["deployment-api.acmecorp.com"]);
  });

  it("checks a PATCH on the client as it will be stored: a grant the registry dropped must go first", async () => {
    const created = await api("POST", "organizations/org_c/clients", token.env, seedClient);
    const path = `organizations/org_c/clients/${created.json.client.client_id}`;
    const dropped = await api("PATCH", `resource-servers/${deploymentId}?force=true`, token.env, { scopes: [{ name: "deploy:applications" }] });
    expect(dropped.status).toBe(200);
    expectRefused(await api("PATCH", path, token.env, { name: "renamed" }), "scopes", "read:deployments");
    const fixed = await api("PATCH", path, token.env, { name: "renamed", scopes: ["deploy:applications"] });
    expect(fixed.status).toBe(200);
    expect(fixed.json.client.scopes).toEqual(["deploy:applications"]);
  });
});
