import { decodeJwt, type JSONWebKeySet } from "jose";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLog } from "../support/log-capture.js";
import { managementApi, type RestBody } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// RFC 6749 §4.4 and §5.2, as a client sees them over HTTP.

let t: TestServer;
let clientId: string;
let secret: string;

/** TokenBody is a token endpoint answer's body as these tests read it: a token (RFC 6749 §5.1) or, by the status, an error (§5.2). */
interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  error: string;
  error_description: string;
}

async function token(body: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: TokenBody }> {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as TokenBody };
}

function basic(id: string, pw: string): string {
  // RFC 6749 §2.3.1: form-urlencode each part, then base64 "id:secret".
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${enc(id)}:${enc(pw)}`).toString("base64")}`;
}

beforeAll(async () => {
  t = await startTestServer();
  const admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  const res = await fetch(`${t.url}/api/v1/organizations/org_tokens/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ ...seedClient, audience: ["api-a", "api-b"], expiry: 600 }),
  });
  const json = (await res.json()) as RestBody;
  clientId = json.client.client_id;
  secret = json.plain_secret;
});
afterAll(() => t.close());

describe("POST /oauth/token", () => {
  it("authenticates with client_secret_basic", async () => {
    const res = await token("grant_type=client_credentials", { authorization: basic(clientId, secret) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: "Bearer", expires_in: 600 });
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("pragma")).toBe("no-cache");
    expect(decodeJwt(res.json.access_token).aud).toEqual(["api-a", "api-b"]);
  });

  it("authenticates with client_secret_post", async () => {
    const res = await token(new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret }).toString());
    expect(res.status).toBe(200);
  });

  it("narrows scope and audience on request", async () => {
    const res = await token(`grant_type=client_credentials&scope=read%3Adeployments&audience=api-b`, { authorization: basic(clientId, secret) });
    expect(res.status).toBe(200);
    expect(res.json.scope).toBe("read:deployments");
    const claims = decodeJwt(res.json.access_token);
    expect(claims).toMatchObject({ aud: "api-b", scope: "read:deployments", scopes: ["read:deployments"] });
  });

  it("takes RFC 8707 resource like audience: repeated, and joined with audience into one aud", async () => {
    const one = await token("grant_type=client_credentials&resource=api-b", { authorization: basic(clientId, secret) });
    expect([one.status, decodeJwt(one.json.access_token).aud]).toEqual([200, "api-b"]);
    const two = await token("grant_type=client_credentials&resource=api-b&resource=api-a", { authorization: basic(clientId, secret) });
    expect([two.status, decodeJwt(two.json.access_token).aud]).toEqual([200, ["api-b", "api-a"]]);
    // Both given: the token is for both lists together, each value checked, duplicates once.
    const both = await token("grant_type=client_credentials&audience=api-a&resource=api-b&resource=api-a", { authorization: basic(clientId, secret) });
    expect([both.status, decodeJwt(both.json.access_token).aud]).toEqual([200, ["api-a", "api-b"]]);
  });

  const errors: [string, string, Record<string, string> | "basic" | "none", number, string][] = [
    ["unknown scope", "grant_type=client_credentials&scope=admin", "basic", 400, "invalid_scope"],
    ["one unknown scope among known", "grant_type=client_credentials&scope=read%3Adeployments+admin", "basic", 400, "invalid_scope"],
    ["audience not registered", "grant_type=client_credentials&audience=other-api", "basic", 400, "invalid_target"],
    ["resource not registered", "grant_type=client_credentials&resource=https%3A%2F%2Fother.test%2F", "basic", 400, "invalid_target"],
    ["one resource not registered among known", "grant_type=client_credentials&resource=api-a&resource=other-api", "basic", 400, "invalid_target"],
    ["resource not registered beside a known audience", "grant_type=client_credentials&audience=api-a&resource=other-api", "basic", 400, "invalid_target"],
    ["missing grant_type", "scope=x", "basic", 400, "invalid_request"],
    ["other grant type", "grant_type=password&username=a&password=b", "basic", 400, "unsupported_grant_type"],
    ["repeated parameter", "grant_type=client_credentials&grant_type=client_credentials", "basic", 400, "invalid_request"],
    ["no client authentication", "grant_type=client_credentials", "none", 401, "invalid_client"],
    ["client_id without secret", "grant_type=client_credentials&client_id=x", "none", 401, "invalid_client"],
    ["two authentication methods", `grant_type=client_credentials&client_secret=x`, "basic", 400, "invalid_request"],
    ["bearer instead of client auth", "grant_type=client_credentials", { authorization: "Bearer abc" }, 401, "invalid_client"],
    ["malformed basic", "grant_type=client_credentials", { authorization: "Basic !!!" }, 401, "invalid_client"],
  ];
  it.each(errors)("%s", async (_name, body, auth, status, error) => {
    const headers = auth === "basic" ? { authorization: basic(clientId, secret) } : auth === "none" ? {} : auth;
    const res = await token(body, headers);
    expect(res.status).toBe(status);
    expect(res.json.error).toBe(error);
    expect(res.json.error_description).toEqual(expect.any(String));
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("answers a wrong secret with 401 invalid_client, and a challenge when Basic was used", async () => {
    const viaBasic = await token("grant_type=client_credentials", { authorization: basic(clientId, `${secret}x`) });
    expect(viaBasic.status).toBe(401);
    expect(viaBasic.json.error).toBe("invalid_client");
    expect(viaBasic.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    const viaPost = await token(`grant_type=client_credentials&client_id=${clientId}&client_secret=wrong`);
    expect(viaPost.status).toBe(401);
    expect(viaPost.headers.get("www-authenticate")).toBeNull();
    // An unknown client gets the same answer as a wrong secret.
    const unknown = await token(`grant_type=client_credentials&client_id=m2morg_nobody&client_secret=wrong`);
    expect(unknown.json).toEqual(viaPost.json);
  });

  it("treats a parameter without a value as omitted (RFC 6749 §3.2)", async () => {
    const res = await token("grant_type=client_credentials&client_secret=&scope=", { authorization: basic(clientId, secret) });
    expect(res.status).toBe(200);
    expect(res.json.scope).toBe("deploy:applications read:deployments");
  });

  it("challenges any client that tried the Authorization header", async () => {
    const res = await token("grant_type=client_credentials", { authorization: "Bearer abc" });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
  });

  it("requires the form content type and POST", async () => {
    const json = await fetch(`${t.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(json.status).toBe(400);
    expect(((await json.json()) as TokenBody).error).toBe("invalid_request");
    const get = await fetch(`${t.url}/oauth/token`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("refuses an oversized body without reading it all", async () => {
    const res = await token(`grant_type=client_credentials&pad=${"x".repeat(70 * 1024)}`, { authorization: basic(clientId, secret) });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("invalid_request");
  });
});

describe("discovery", () => {
  it("serves the JWKS at /keys and /.well-known/jwks.json with a max-age", async () => {
    for (const path of ["/keys", "/.well-known/jwks.json"]) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toMatch(/max-age=\d+/);
      const jwks = (await res.json()) as JSONWebKeySet;
      // The current key and the next one, published ahead of the rotation that makes it current.
      expect(jwks.keys).toHaveLength(2);
      for (const key of jwks.keys) {
        expect(key).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig", kid: expect.any(String) as unknown });
        expect(key.d).toBeUndefined();
      }
    }
  });

  it("serves RFC 8414 metadata, at the OpenID path too, and a health check", async () => {
    const openid = (await (await fetch(`${t.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(openid).toMatchObject({ issuer: t.issuer, token_endpoint: `${t.issuer}/oauth/token` });
    const meta = (await (await fetch(`${t.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ issuer: t.issuer, token_endpoint: `${t.issuer}/oauth/token`, grant_types_supported: ["client_credentials"] });
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it("answers /readyz 200 while every readiness condition is clear, and 503 naming them while one is not", async () => {
    expect([(await fetch(`${t.url}/readyz`)).status, t.server.readiness.ready()]).toEqual([200, true]);
    t.server.readiness.set("draining", "SIGTERM received");
    const res = await fetch(`${t.url}/readyz`);
    expect([res.status, res.headers.get("retry-after"), await res.json()]).toEqual([
      503,
      "1",
      { status: "not_ready", reasons: ["draining: SIGTERM received"] },
    ]);
    t.server.readiness.set("draining", undefined);
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });
});

describe("the token endpoint's log", () => {
  it("names a client only by an id of our own formats, and anything else by a short hash", async () => {
    const log = captureLog();
    const logged = await startTestServer({ backend: "memory", logger: log.logger });
    try {
      const admin = await getToken(logged.url, logged.admin.clientId, logged.admin.clientSecret);
      const { id } = await managementApi(logged.url, admin).register("org_log");
      const send = (clientIdSent: string, via: "post" | "basic") =>
        fetch(`${logged.url}/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...(via === "basic" ? { authorization: basic(clientIdSent, "wrong") } : {}) },
          body: new URLSearchParams({ grant_type: "client_credentials", ...(via === "post" ? { client_id: clientIdSent, client_secret: "wrong" } : {}) }),
        });
      const loggedIds = async (clientIdSent: string, via: "post" | "basic") => {
        const before = log.lines.length;
        expect((await send(clientIdSent, via)).status).toBe(401);
        return log.lines
          .slice(before)
          .filter((line) => line.route === "/oauth/token")
          .map((line) => line.clientId);
      };
      // A 64-hex admin secret pasted into client_id looks like an id, and is logged only as a hash.
      const pasted = randomBytes(32).toString("hex");
      const hashed = `sha256:${createHash("sha256").update(pasted).digest("hex").slice(0, 12)}`;
      expect(await loggedIds(pasted, "post")).toEqual([hashed]);
      expect(await loggedIds(pasted, "basic")).toEqual([hashed]);
      expect(JSON.stringify(log.lines)).not.toContain(pasted);
      expect(await loggedIds("my-service-account", "post")).toEqual([expect.stringMatching(/^sha256:[0-9a-f]{12}$/)]);
      // Our own formats are logged as sent: generated, bootstrap admin, and the configured admin id.
      expect(await loggedIds(id, "post")).toEqual([id]);
      expect(await loggedIds("m2madmin_abcdefghijklmnopqrst", "basic")).toEqual(["m2madmin_abcdefghijklmnopqrst"]);
      expect(await loggedIds(logged.admin.clientId, "post")).toEqual([logged.admin.clientId]);
    } finally {
      await logged.close();
    }
  });
});
