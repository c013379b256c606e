import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// What a client sets is stored as sent: invalid UTF-8 is refused, never replaced with U+FFFD and
// stored (RFC 8259 §8.1), on REST and Connect alike; claim keys a verifier would read as an
// object's prototype are refused.

const org = "org_text_input";
let t: TestServer;
let admin: string;
let api: ManagementApi;
beforeAll(async () => {
  t = await startTestServer({ backend: "memory" });
  admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  api = managementApi(t.url, admin);
});
afterAll(() => t.close());

// A JSON body with `marker` (raw bytes) spliced into the client's name.
function withRawName(json: object, marker: Buffer): Buffer {
  const [before, after] = JSON.stringify(json).split("@NAME@") as [string, string];
  return Buffer.concat([Buffer.from(before), marker, Buffer.from(after)]);
}

/** ErrorBody is an error answer's JSON, REST's or Connect's. */
interface ErrorBody {
  code: string;
  message: string;
}

/** errorOf reads an answer's JSON as an error's. */
const errorOf = (answer: { json: unknown }): ErrorBody => answer.json as ErrorBody;

async function post(path: string, body: Buffer): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body,
  });
  return { status: res.status, json: await res.json() };
}

const invalidUtf8 = [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80])];
const stored = async () => ((await api.call("GET", `${org}/clients`)).json as { clients: { name: string }[] }).clients.map((c) => c.name);

describe("client text", () => {
  it.each(invalidUtf8)("refuses invalid UTF-8 (%o) in a REST body", async (bytes) => {
    const body = withRawName({ ...seedClient, name: "bad @NAME@ name" }, bytes);
    const res = await post(`/api/v1/organizations/${org}/clients`, body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: "invalid_argument", message: "request body is not valid UTF-8" });
    expect(await stored()).toEqual([]);
  });

  it.each(invalidUtf8)("refuses invalid UTF-8 (%o) in a Connect JSON body", async (bytes) => {
    const body = withRawName({ organization_id: org, client: { ...seedClient, name: "bad @NAME@ name" } }, bytes);
    const res = await post("/m2mauth.v1.OrganizationClientService/CreateOrganizationClient", body);
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe("invalid_argument");
    expect(errorOf(res).message).toMatch(/^name: must be valid UTF-8/);
    expect(await stored()).toEqual([]);
  });

  it("refuses a lone surrogate and U+FFFD in every text field, on both transports", async () => {
    const bad = ["\ud800", "\udc00x", "\ufffd"];
    const fields: [string, (value: string) => object][] = [
      ["name", (value) => ({ name: `n${value}` })],
      ["description", (value) => ({ description: value })],
      ["custom_claims[0].value", (value) => ({ custom_claims: [{ key: "team", value }] })],
      ["audience[0]", (value) => ({ audience: [`api${value}`] })],
    ];
    for (const value of bad) {
      for (const [field, set] of fields) {
        const client = { ...seedClient, ...set(value) };
        // protobuf-es refuses a lone surrogate while reading JSON; validation refuses U+FFFD, by field.
        const message = value === "\ufffd" ? new RegExp(`^${field.replace(/[[\].]/g, "\\$&")}: must be valid UTF-8`) : /invalid UTF-?8/;
        const rest = await api.call("POST", `${org}/clients`, client);
        expect(rest.status).toBe(400);
        expect(errorOf(rest).code).toBe("invalid_argument");
        expect(errorOf(rest).message).toMatch(message);
        const rpc = await post("/m2mauth.v1.OrganizationClientService/CreateOrganizationClient", Buffer.from(JSON.stringify({ organization_id: org, client })));
        expect(rpc.status).toBe(400);
        expect(errorOf(rpc).code).toBe("invalid_argument");
        expect(errorOf(rpc).message).toMatch(message);
      }
    }
    expect(await stored()).toEqual([]);
    // Other text outside ASCII is kept as sent.
    const client: unknown = (await api.register(org, { ...seedClient, name: "Déploiement 🚀", description: "ünïcödé" })).client;
    expect(client).toMatchObject({ name: "Déploiement 🚀", description: "ünïcödé" });
  });

  it.each(["__proto__", "constructor", "prototype"])("refuses the custom claim key %s", async (key) => {
    const res = await api.call("POST", `${org}/clients`, { ...seedClient, custom_claims: [{ key, value: "x" }] });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe("invalid_argument");
    expect(errorOf(res).message).toMatch(/^custom_claims\[0\]\.key: /);
    const { id } = await api.register(org);
    const update = await api.call("PATCH", `${org}/clients/${id}`, { custom_claims: [{ key, value: "x" }] });
    expect(update.status).toBe(400);
    expect(errorOf(update).message).toMatch(/^custom_claims\[0\]\.key: /);
  });
});
