import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeClock } from "../interceptor/fake-clock.js";
import { managementApi, type ManagementApi, type RegisteredClient } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// RFC 7662 introspection over HTTP, against a real server on real Redis, with a fake clock for expiry.

let t: TestServer;
let api: ManagementApi;
let deployer: RegisteredClient;
let sibling: RegisteredClient;
let stranger: RegisteredClient;
const clock = fakeClock();

/** introspect posts `token` to /oauth/introspect as `who` (client_secret_post), or with `headers` instead. */
async function introspect(token: string | undefined, who?: { id: string; secret: string }, headers: Record<string, string> = {}) {
  const form = new URLSearchParams(who ? { client_id: who.id, client_secret: who.secret } : {});
  if (token !== undefined) form.set("token", token);
  const res = await fetch(`${t.url}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: form,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

const tokenOf = (client: RegisteredClient) => getToken(t.url, client.id, client.secret);
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

beforeAll(async () => {
  t = await startTestServer({ now: clock.now });
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
  deployer = await api.register("org_introspect");
  sibling = await api.register("org_introspect", { ...seedClient, name: "Resource server" });
  stranger = await api.register("org_elsewhere");
});
afterAll(() => t.close());

describe("POST /oauth/introspect", () => {
  it("answers active with the token's claims to its own client, uncached", async () => {
    const token = await tokenOf(deployer);
    const res = await introspect(token, deployer);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const claims = decodeJwt(token);
    expect(res.json).toEqual({ ...claims, active: true, token_type: "Bearer" });
    expect(res.json).toMatchObject({ client_id: deployer.id, scope: "deploy:applications read:deployments", github_repository: "acmecorp/inventory-service" });
  });

  it("authenticates the caller by client_secret_basic too", async () => {
    const res = await introspect(await tokenOf(deployer), undefined, { authorization: basic(deployer.id, deployer.secret) });
    expect([res.status, res.json["active"]]).toEqual([200, true]);
  });

  it("shows a token to a client of the same organization and to the admin", async () => {
    const token = await tokenOf(deployer);
    expect((await introspect(token, sibling)).json["active"]).toBe(true);
    expect((await introspect(token, { id: t.admin.clientId, secret: t.admin.clientSecret })).json["active"]).toBe(true);
  });

  it("answers exactly {active: false} to a client of another organization (RFC 7662 §4: no token scanning)", async () => {
    const res = await introspect(await tokenOf(deployer), stranger);
    expect([res.status, res.json]).toEqual([200, { active: false }]);
  });

  it("answers exactly {active: false} for garbage, an empty-looking JWT and a foreign signature", async () => {
    const token = await tokenOf(deployer);
    // The same claims and header, signed by a key of someone else's with our key id.
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader(decodeProtectedHeader(token) as { alg: string }).sign(privateKey);
    for (const bad of ["garbage", "a.b.c", forged, `${token}x`]) {
      const res = await introspect(bad, deployer);
      expect([res.status, res.json]).toEqual([200, { active: false }]);
    }
  });

  it("answers {active: false} once the token has expired", async () => {
    const token = await tokenOf(deployer);
    expect((await introspect(token, deployer)).json["active"]).toBe(true);
    // expiry 3600 s, plus the verifier's 30 s of skew.
    clock.advance((3600 + 31) * 1000);
    try {
      expect((await introspect(token, deployer)).json).toEqual({ active: false });
    } finally {
      clock.advance(-(3600 + 31) * 1000);
    }
  });

  it("answers {active: false} once the token's client is deleted", async () => {
    const doomed = await api.register("org_introspect", { ...seedClient, name: "Doomed" });
    const token = await tokenOf(doomed);
    expect((await introspect(token, sibling)).json["active"]).toBe(true);
    expect((await api.call("DELETE", `org_introspect/clients/${doomed.id}`)).status).toBe(200);
    expect((await introspect(token, sibling)).json).toEqual({ active: false });
  });

  it("refuses a caller that does not authenticate: 401 invalid_client, with a challenge after Basic", async () => {
    const token = await tokenOf(deployer);
    const none = await introspect(token);
    expect([none.status, none.json["error"], none.headers.get("www-authenticate")]).toEqual([401, "invalid_client", null]);
    const wrong = await introspect(token, { id: deployer.id, secret: `${deployer.secret}x` });
    expect([wrong.status, wrong.json["error"]]).toEqual([401, "invalid_client"]);
    const viaBasic = await introspect(token, undefined, { authorization: basic(deployer.id, "wrong") });
    expect([viaBasic.status, viaBasic.headers.get("www-authenticate")]).toEqual([401, 'Basic realm="m2m-auth", charset="UTF-8"']);
  });

  it("requires the token parameter (invalid_request) and POST (405)", async () => {
    const missing = await introspect(undefined, deployer);
    expect([missing.status, missing.json["error"]]).toEqual([400, "invalid_request"]);
    const get = await fetch(`${t.url}/oauth/introspect`);
    expect([get.status, get.headers.get("allow")]).toEqual([405, "POST"]);
  });

  it("ignores token_type_hint, whatever it says", async () => {
    const token = await tokenOf(deployer);
    for (const hint of ["access_token", "refresh_token", "something_else"]) {
      const res = await fetch(`${t.url}/oauth/introspect`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ client_id: deployer.id, client_secret: deployer.secret, token, token_type_hint: hint }),
      });
      expect(((await res.json()) as { active: boolean }).active).toBe(true);
    }
  });
});
