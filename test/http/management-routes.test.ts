import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import jwt, { type JwtHeader } from "jsonwebtoken";
import jwksClient from "jwks-rsa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RestBody } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// The seed's walk-through over REST, with the requests curl would send.

let t: TestServer;
let adminToken: string;
const org = "org_59615193906282635";

async function api(method: string, path: string, body?: unknown, token = adminToken): Promise<{ status: number; headers: Headers; json: RestBody }> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as RestBody };
}

beforeAll(async () => {
  t = await startTestServer();
  adminToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
});
afterAll(() => t.close());

describe("the seed flow over REST", () => {
  it("registers a client, answers with the seed's shape, and shows the secret once", async () => {
    const created = await api("POST", `/api/v1/organizations/${org}/clients`, seedClient);
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const { client, plain_secret } = created.json;
    expect(Object.keys(created.json).sort()).toEqual(["client", "plain_secret"]);
    expect(client.client_id).toMatch(/^m2morg_[a-z2-7]+$/);
    expect(plain_secret).toMatch(/^m2msk_[A-Za-z0-9_-]{43}$/);
    expect(client).toMatchObject({
      name: seedClient.name,
      description: seedClient.description,
      organization_id: org,
      scopes: seedClient.scopes,
      audience: seedClient.audience,
      custom_claims: seedClient.custom_claims,
      expiry: 3600,
    });
    expect(client.create_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(client.update_time).toBe(client.create_time);
    expect(client.secrets).toHaveLength(1);
    expect(client.secrets[0]).toMatchObject({ status: "ACTIVE", secret_suffix: plain_secret.slice(-4) });
    expect(client.secrets[0]!.id).toMatch(/^sks_/);

    const fetched = await api("GET", `/api/v1/organizations/${org}/clients/${client.client_id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.json.client).toEqual(client);
    expect(JSON.stringify(fetched.json)).not.toContain(plain_secret);
    expect(JSON.stringify(fetched.json)).not.toContain("hash");
  });

  it("issues a token that jose and the seed's jsonwebtoken + jwks-rsa snippet verify", async () => {
    const { json } = await api("POST", `/api/v1/organizations/${org}/clients`, seedClient);
    const res = await fetch(`${t.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=client_credentials&client_id=${json.client.client_id}&client_secret=${json.plain_secret}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const token = (await res.json()) as { access_token: string };
    expect(token).toEqual({
      access_token: expect.any(String) as unknown,
      token_type: "Bearer",
      expires_in: 3600,
      scope: "deploy:applications read:deployments",
    });

    const header = decodeProtectedHeader(token.access_token);
    expect(header).toMatchObject({ alg: "RS256", typ: "at+jwt", kid: expect.any(String) as unknown });
    const { payload } = await jwtVerify(token.access_token, createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`)), {
      issuer: t.issuer,
      audience: "deployment-api.acmecorp.com",
      typ: "at+jwt",
    });
    expect(payload).toMatchObject({
      iss: t.issuer,
      sub: json.client.client_id,
      aud: "deployment-api.acmecorp.com",
      client_id: json.client.client_id,
      scope: "deploy:applications read:deployments",
      scopes: ["deploy:applications", "read:deployments"],
      oid: org,
      github_repository: "acmecorp/inventory-service",
      environment: "production_us",
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.jti).toEqual(expect.any(String));

    // The seed's snippet, unchanged but for the URI (and its header typed).
    const client = jwksClient({ jwksUri: `${t.url}/keys`, cache: true });
    async function getPublicKey(header: JwtHeader): Promise<string> {
      return new Promise((resolve, reject) => {
        client.getSigningKey(header.kid, (err, key) => {
          if (err) reject(err);
          else resolve(key!.getPublicKey());
        });
      });
    }
    async function verifyToken(token: string, publicKey: string) {
      const verified = jwt.verify(token, publicKey, { algorithms: ["RS256"], complete: true });
      return verified.payload;
    }
    const decoded = jwt.decode(token.access_token, { complete: true });
    const verified = await verifyToken(token.access_token, await getPublicKey(decoded!.header));
    expect(verified).toMatchObject({ sub: json.client.client_id, oid: org });
  });

  it("lists with pages and deletes; a deleted client's credentials stop working", async () => {
    const other = "org_list_test";
    const ids: string[] = [];
    const secrets: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { json } = await api("POST", `/api/v1/organizations/${other}/clients`, { ...seedClient, name: `client ${i}` });
      ids.push(json.client.client_id);
      secrets.push(json.plain_secret);
    }
    const first = await api("GET", `/api/v1/organizations/${other}/clients?page_size=2`);
    expect(first.status).toBe(200);
    expect(first.json.total_size).toBe(3);
    expect(first.json.clients.map((c) => c.client_id)).toEqual(ids.slice(0, 2));
    expect(first.json.next_page_token).not.toBe("");
    const second = await api("GET", `/api/v1/organizations/${other}/clients?page_size=2&page_token=${encodeURIComponent(first.json.next_page_token)}`);
    expect(second.json.clients.map((c) => c.client_id)).toEqual(ids.slice(2));
    expect(second.json.next_page_token).toBe("");
    // A page token is bound to its organization.
    const stolen = await api("GET", `/api/v1/organizations/${org}/clients?page_token=${encodeURIComponent(first.json.next_page_token)}`);
    expect(stolen.status).toBe(400);
    expect(stolen.json.message).toContain("page_token");

    const del = await api("DELETE", `/api/v1/organizations/${other}/clients/${ids[0]}`);
    expect(del.status).toBe(200);
    expect((await api("GET", `/api/v1/organizations/${other}/clients/${ids[0]}`)).status).toBe(404);
    expect((await api("DELETE", `/api/v1/organizations/${other}/clients/${ids[0]}`)).status).toBe(404);
    await expect(getToken(t.url, ids[0]!, secrets[0]!)).rejects.toThrow(/401/);
    expect(await getToken(t.url, ids[1]!, secrets[1]!)).toEqual(expect.any(String));
  });

  it("confines reads and deletes to the client's organization", async () => {
    const { json } = await api("POST", `/api/v1/organizations/org_a/clients`, seedClient);
    expect((await api("GET", `/api/v1/organizations/org_b/clients/${json.client.client_id}`)).status).toBe(404);
    expect((await api("DELETE", `/api/v1/organizations/org_b/clients/${json.client.client_id}`)).status).toBe(404);
    expect((await api("GET", `/api/v1/organizations/org_a/clients/${json.client.client_id}`)).status).toBe(200);
  });
});

describe("management authorization", () => {
  it("refuses a missing or invalid token with 401 and a Bearer challenge", async () => {
    const res = await fetch(`${t.url}/api/v1/organizations/${org}/clients`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const bad = await api("GET", `/api/v1/organizations/${org}/clients`, undefined, "not.a.token");
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("refuses a client token without the management scopes or audience", async () => {
    const { json } = await api("POST", `/api/v1/organizations/${org}/clients`, { ...seedClient, scopes: ["m2m:clients:read"] });
    // Its audience is deployment-api.acmecorp.com, not the issuer: not a management token.
    const wrongAud = await getToken(t.url, json.client.client_id, json.plain_secret);
    expect((await api("GET", `/api/v1/organizations/${org}/clients`, undefined, wrongAud)).status).toBe(401);
    const reader = await api("POST", `/api/v1/organizations/${org}/clients`, { ...seedClient, scopes: ["m2m:clients:read"], audience: [t.issuer] });
    const readToken = await getToken(t.url, reader.json.client.client_id, reader.json.plain_secret);
    expect((await api("GET", `/api/v1/organizations/${org}/clients`, undefined, readToken)).status).toBe(200);
    const write = await api("POST", `/api/v1/organizations/${org}/clients`, seedClient, readToken);
    expect(write.status).toBe(403);
    expect(write.json.message).toContain("m2m:clients:write");
    expect(write.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  });
});

describe("bad input", () => {
  const cases: [string, unknown, string][] = [
    ["empty name", { ...seedClient, name: "" }, "name"],
    ["long name", { ...seedClient, name: "x".repeat(129) }, "name"],
    ["short expiry", { ...seedClient, expiry: 59 }, "expiry"],
    ["long expiry", { ...seedClient, expiry: 86401 }, "expiry"],
    ["scope with a space", { ...seedClient, scopes: ["read deployments"] }, "scopes[0]"],
    ["no audience", { ...seedClient, audience: [] }, "audience"],
    ["audience with a space", { ...seedClient, audience: ["a b"] }, "audience[0]"],
    ["custom claim shadowing sub", { ...seedClient, custom_claims: [{ key: "sub", value: "x" }] }, "custom_claims[0].key"],
    ["custom claim shadowing scopes", { ...seedClient, custom_claims: [{ key: "scopes", value: "x" }] }, "custom_claims[0].key"],
    ["unknown field", { ...seedClient, colour: "red" }, "colour"],
    ["wrong type", { ...seedClient, expiry: "soon" }, "expiry"],
    ["not JSON", "{name:", "JSON"],
    ["too large", { ...seedClient, description: "x".repeat(70 * 1024) }, "larger than"],
  ];
  it.each(cases)("%s → 400 invalid_argument naming the field, nothing stored", async (_name, body, field) => {
    const before = (await api("GET", `/api/v1/organizations/org_bad_input/clients`)).json.total_size;
    const res = await api("POST", `/api/v1/organizations/org_bad_input/clients`, body);
    expect(res.status).toBe(400);
    expect(res.json.code).toBe("invalid_argument");
    expect(res.json.message).toContain(field);
    expect((await api("GET", `/api/v1/organizations/org_bad_input/clients`)).json.total_size).toBe(before);
  });

  it("rejects a malformed organization id and page size", async () => {
    expect((await api("GET", `/api/v1/organizations/${encodeURIComponent("org a")}/clients`)).status).toBe(400);
    expect((await api("GET", `/api/v1/organizations/${org}/clients?page_size=101`)).status).toBe(400);
    expect((await api("GET", `/api/v1/organizations/${org}/clients?page_size=-1`)).status).toBe(400);
  });

  it("answers 404 for unknown routes and 405 for wrong methods", async () => {
    expect((await api("GET", `/nope`)).status).toBe(404);
    expect((await api("PUT", `/api/v1/organizations/${org}/clients`, {})).status).toBe(405);
    // RFC 9110 §15.5.6: a 405 names the methods the resource allows; its code says what went wrong.
    const put = await api("PUT", `/api/v1/organizations/${org}/clients/m2morg_x`, {});
    expect([put.status, put.headers.get("allow"), put.json.code]).toEqual([405, "GET, PATCH, DELETE", "method_not_allowed"]);
    expect(put.json.message).toMatch(/PUT is not allowed here; use GET, PATCH, DELETE/);
    const get = await api("GET", `/api/v1/organizations/${org}/clients/m2morg_x/secrets`);
    expect([get.status, get.headers.get("allow"), get.json.code]).toEqual([405, "POST", "method_not_allowed"]);
  });
});
