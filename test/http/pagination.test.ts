import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RestBody } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// ListOrganizationClients pages stably while clients are created and deleted between pages.

let t: TestServer;
let admin: string;
const org = "org_paging";

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: RestBody }> {
  const res = await fetch(`${t.url}/api/v1/organizations/${org}/${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as RestBody };
}
const register = async (name: string) => (await api("POST", "clients", { ...seedClient, name })).json.client.client_id;

beforeAll(async () => {
  t = await startTestServer();
  admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
});
afterAll(() => t.close());

describe("pagination", () => {
  it("validates page_size and defaults to 10", async () => {
    for (let i = 0; i < 12; i++) await register(`default ${i}`);
    const page = await api("GET", "clients");
    expect(page.json.clients).toHaveLength(10);
    expect(page.json.total_size).toBe(12);
    for (const bad of ["0x1", "101", "-5", "abc"]) expect((await api("GET", `clients?page_size=${bad}`)).status).toBe(400);
    const tampered = page.json.next_page_token.replace(/.$/, (c: string) => (c === "A" ? "B" : "A"));
    expect((await api("GET", `clients?page_token=${encodeURIComponent(tampered)}`)).status).toBe(400);
  });

  it("neither skips nor repeats clients that exist throughout, under concurrent creates and deletes", async () => {
    const stable = new Set<string>();
    for (let i = 0; i < 20; i++) stable.add(await register(`stable ${i}`));
    const churn: string[] = [];
    const seen: string[] = [];
    let token = "";
    do {
      // Between pages: one client created, one of the churn deleted.
      const [page] = await Promise.all([
        api("GET", `clients?page_size=7${token ? `&page_token=${encodeURIComponent(token)}` : ""}`),
        register("churn").then((id) => churn.push(id)),
        churn.length > 0 ? api("DELETE", `clients/${churn.shift()}`) : Promise.resolve(),
      ]);
      expect(page.status).toBe(200);
      seen.push(...page.json.clients.map((c) => c.client_id));
      token = page.json.next_page_token;
    } while (token !== "");
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of stable) expect(seen).toContain(id);
  });
});
