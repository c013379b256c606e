import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// The registry over REST, end to end: the environment's admin registers, reads, pages, changes
// and deletes APIs; an organization's admin is refused even holding the scopes; bad input names
// its field and changes nothing; a used API is not deleted (or stripped of a used scope) unless forced.

interface RestResourceServer {
  id: string;
  audience: string;
  name: string;
  description: string;
  scopes: { name: string; description: string }[];
  organization_ids: string[];
  create_time: string;
  update_time: string;
}

interface Body {
  resource_server: RestResourceServer;
  resource_servers: RestResourceServer[];
  next_page_token: string;
  total_size: number;
  client_count: number;
  client: { client_id: string };
  plain_secret: string;
  code: string;
  message: string;
}

let t: TestServer;
let envAdmin: string;
let orgAdmin: string;

async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Body }> {
  const res = await fetch(`${t.url}/api/v1/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Body };
}

const deploymentApi = {
  audience: "deployment-api.acmecorp.com",
  name: "Deployment API",
  scopes: [
    { name: "deploy:applications", description: "Deploy applications" },
    { name: "read:deployments", description: "Read deployments" },
  ],
};

beforeAll(async () => {
  t = await startTestServer();
  envAdmin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  const admin = await api("POST", "organizations/org_a/clients", envAdmin, {
    name: "org A admin",
    scopes: ["m2m:clients:read", "m2m:clients:write", "m2m:resource-servers:read", "m2m:resource-servers:write"],
    audience: [t.issuer],
  });
  expect(admin.status).toBe(201);
  orgAdmin = await getToken(t.url, admin.json.client.client_id, admin.json.plain_secret);
});
afterAll(() => t.close());

describe("REST /api/v1/resource-servers", () => {
  it("lets the environment's admin register, read, list, change and delete an API", async () => {
    const created = await api("POST", "resource-servers", envAdmin, deploymentApi);
    expect(created.status).toBe(201);
    const server = created.json.resource_server;
    expect(server).toMatchObject({ ...deploymentApi, description: "", organization_ids: [] });
    expect(server.id).toMatch(/^rs_[a-z2-7]{20}$/);
    expect(server.create_time).toBe(server.update_time);

    expect((await api("GET", `resource-servers/${server.id}`, envAdmin)).json.resource_server).toEqual(server);
    const listed = await api("GET", "resource-servers?page_size=10", envAdmin);
    expect(listed.status).toBe(200);
    expect(listed.json.resource_servers.map((s) => s.id)).toContain(server.id);
    expect(listed.json.next_page_token).toBe("");

    const patched = await api("PATCH", `resource-servers/${server.id}`, envAdmin, { description: "Deploys things", organization_ids: ["org_a"] });
    expect(patched.status).toBe(200);
    expect(patched.json.resource_server).toMatchObject({ ...deploymentApi, description: "Deploys things", organization_ids: ["org_a"] });

    expect((await api("DELETE", `resource-servers/${server.id}`, envAdmin)).json).toEqual({ client_count: 0 });
    expect((await api("GET", `resource-servers/${server.id}`, envAdmin)).status).toBe(404);
  });

  it("pages oldest first with an opaque token and a total", async () => {
    const ids: string[] = [];
    for (const i of [0, 1, 2]) {
      const res = await api("POST", "resource-servers", envAdmin, { audience: `https://paging-${i}.example.com`, name: `Paging ${i}` });
      ids.push(res.json.resource_server.id);
    }
    const seen: string[] = [];
    let token = "";
    do {
      const page = await api("GET", `resource-servers?page_size=2${token ? `&page_token=${encodeURIComponent(token)}` : ""}`, envAdmin);
      expect(page.status).toBe(200);
      expect(page.json.total_size).toBeGreaterThanOrEqual(3);
      seen.push(...page.json.resource_servers.map((s) => s.id));
      token = page.json.next_page_token;
    } while (token !== "");
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
    const forged = await api("GET", "resource-servers?page_token=abc.def", envAdmin);
    expect(forged.status).toBe(400);
    expect(forged.json.message).toContain("page_token");
    for (const id of ids) expect((await api("DELETE", `resource-servers/${id}`, envAdmin)).status).toBe(200);
  });

  it("refuses an organization's admin even holding the scopes, and a token without them", async () => {
    const created = await api("POST", "resource-servers", envAdmin, { ...deploymentApi, audience: "refused.example.com" });
    const id = created.json.resource_server.id;
    for (const [method, path, body] of [
      ["POST", "resource-servers", { ...deploymentApi, audience: "mine.example.com" }],
      ["GET", "resource-servers", undefined],
      ["GET", `resource-servers/${id}`, undefined],
      ["PATCH", `resource-servers/${id}`, { name: "hijack" }],
      ["DELETE", `resource-servers/${id}`, undefined],
    ] as const) {
      const res = await api(method, path, orgAdmin, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json.code).toBe("permission_denied");
      expect(res.json.message).toContain("environment's admin only");
    }
    expect((await api("GET", `resource-servers/${id}`, envAdmin)).json.resource_server.name).toBe(deploymentApi.name);
    // A client of the management API without the resource-server scopes is refused by the interceptor.
    const reader = await api("POST", "organizations/org_a/clients", envAdmin, { name: "reader", scopes: ["m2m:clients:read"], audience: [t.issuer] });
    const readerToken = await getToken(t.url, reader.json.client.client_id, reader.json.plain_secret);
    expect((await api("GET", "resource-servers", readerToken)).status).toBe(403);
    expect((await api("DELETE", `resource-servers/${id}`, envAdmin)).status).toBe(200);
  });

  it("refuses bad input naming the field, and changes nothing", async () => {
    const cases: [unknown, string][] = [
      [{ ...deploymentApi, audience: "" }, "audience"],
      [{ ...deploymentApi, audience: "has space" }, "audience"],
      [{ ...deploymentApi, audience: t.issuer }, "audience"],
      [{ ...deploymentApi, audience: "bad-name.example.com", name: "" }, "name"],
      [{ ...deploymentApi, audience: "bad-scope.example.com", scopes: [{ name: "has space" }] }, "scopes[0].name"],
      [{ ...deploymentApi, audience: "m2m.example.com", scopes: [{ name: "m2m:clients:write" }] }, "scopes[0].name"],
      [{ ...deploymentApi, audience: "twice.example.com", scopes: [{ name: "a" }, { name: "a" }] }, "scopes[1].name"],
      [{ ...deploymentApi, audience: "many.example.com", scopes: Array.from({ length: 101 }, (_, i) => ({ name: `s${i}` })) }, "scopes"],
      [{ ...deploymentApi, audience: "org.example.com", organization_ids: ["bad org"] }, "organization_ids[0]"],
      [{ ...deploymentApi, audience: "long.example.com", description: "x".repeat(1025) }, "description"],
      [{ ...deploymentApi, audience: "unknown.example.com", colour: "blue" }, "colour"],
    ];
    const before = (await api("GET", "resource-servers", envAdmin)).json.total_size;
    for (const [body, field] of cases) {
      const res = await api("POST", "resource-servers", envAdmin, body);
      expect(res.status, field).toBe(400);
      expect(res.json.code).toBe("invalid_argument");
      expect(res.json.message).toContain(field);
    }
    expect((await api("GET", "resource-servers", envAdmin)).json.total_size).toBe(before);

    const created = await api("POST", "resource-servers", envAdmin, { ...deploymentApi, audience: "unique.example.com" });
    const taken = await api("POST", "resource-servers", envAdmin, { ...deploymentApi, audience: "unique.example.com", name: "Again" });
    expect(taken.status).toBe(400);
    expect(taken.json.message).toContain("registered already");
    const id = created.json.resource_server.id;
    const moved = await api("PATCH", `resource-servers/${id}`, envAdmin, { audience: "elsewhere.example.com" });
    expect(moved.status).toBe(400);
    expect(moved.json.message).toContain("audience: is immutable");
    // The same audience in a PATCH of the whole object is no change, so it passes.
    expect((await api("PATCH", `resource-servers/${id}`, envAdmin, { audience: "unique.example.com", name: "Same" })).status).toBe(200);
    expect((await api("GET", "resource-servers/not-an-id", envAdmin)).status).toBe(400);
    expect((await api("GET", "resource-servers/rs_aaaaaaaaaaaaaaaaaaaa", envAdmin)).status).toBe(404);
    expect((await api("PUT", `resource-servers/${id}`, envAdmin, {})).status).toBe(405);
    expect((await api("DELETE", `resource-servers/${id}?force=yes`, envAdmin)).status).toBe(400);
    expect((await api("DELETE", `resource-servers/${id}`, envAdmin)).status).toBe(200);
  });

  it("refuses to delete an API clients use, with their count, unless forced; likewise removing a used scope", async () => {
    const created = await api("POST", "resource-servers", envAdmin, { ...deploymentApi, audience: "in-use.example.com" });
    const id = created.json.resource_server.id;
    const use = { ...seedClient, audience: ["in-use.example.com"] };
    for (const org of ["org_a", "org_b"]) expect((await api("POST", `organizations/${org}/clients`, envAdmin, use)).status).toBe(201);
    expect((await api("POST", "organizations/org_c/clients", envAdmin, { ...use, scopes: ["read:deployments"] })).status).toBe(201);

    const dropScope = await api("PATCH", `resource-servers/${id}`, envAdmin, { scopes: [deploymentApi.scopes[1]] });
    expect(dropScope.status).toBe(400);
    expect(dropScope.json.code).toBe("failed_precondition");
    expect(dropScope.json.message).toContain("2 client(s)");
    const closeOrgs = await api("PATCH", `resource-servers/${id}`, envAdmin, { organization_ids: ["org_a"] });
    expect(closeOrgs.json.message).toContain("2 client(s)");
    expect((await api("GET", `resource-servers/${id}`, envAdmin)).json.resource_server.scopes).toHaveLength(2);

    const refused = await api("DELETE", `resource-servers/${id}`, envAdmin);
    expect(refused.status).toBe(400);
    expect(refused.json.code).toBe("failed_precondition");
    expect(refused.json.message).toContain("3 client(s) use in-use.example.com");
    expect((await api("GET", `resource-servers/${id}`, envAdmin)).status).toBe(200);

    const forcedScope = await api("PATCH", `resource-servers/${id}?force=true`, envAdmin, { scopes: [deploymentApi.scopes[1]] });
    expect(forcedScope.status).toBe(200);
    expect((await api("PATCH", `resource-servers/${id}?force=true`, envAdmin, { organization_ids: ["org_a"] })).status).toBe(200);
    // Clients let in before a forced change are not counted against a later one that removes nothing.
    expect((await api("PATCH", `resource-servers/${id}`, envAdmin, { name: "Renamed", organization_ids: ["org_a"] })).status).toBe(200);
    expect((await api("PATCH", `resource-servers/${id}`, envAdmin, { organization_ids: ["org_a", "org_b"] })).status).toBe(200);
    expect((await api("PATCH", `resource-servers/${id}`, envAdmin, { organization_ids: ["org_a"] })).json.message).toContain("1 client(s)");
    const forced = await api("DELETE", `resource-servers/${id}?force=true`, envAdmin);
    expect(forced.status).toBe(200);
    expect(forced.json).toEqual({ client_count: 3 });
    expect((await api("GET", `resource-servers/${id}`, envAdmin)).status).toBe(404);
  });

  it("keeps scopes_supported to the management scopes: registered scopes never appear", async () => {
    const created = await api("POST", "resource-servers", envAdmin, {
      ...deploymentApi,
      audience: "metadata.example.com",
      scopes: [{ name: "admin:everything" }],
    });
    expect(created.status).toBe(201);
    const meta = (await (await fetch(`${t.url}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
    expect(meta.scopes_supported).toContain("m2m:resource-servers:write");
    expect(meta.scopes_supported.every((scope) => scope.startsWith("m2m:"))).toBe(true);
    expect(meta.scopes_supported).not.toContain("admin:everything");
    expect(meta.scopes_supported).not.toContain("deploy:applications");
    expect((await api("DELETE", `resource-servers/${created.json.resource_server.id}`, envAdmin)).status).toBe(200);
  });
});
