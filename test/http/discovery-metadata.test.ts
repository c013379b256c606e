import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminScopes } from "../../src/clients/admin-client.js";
import { createTokenVerifier } from "../../src/interceptor/index.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";
import { clientAssertionAlgorithms } from "../../src/rules.js";

// The RFC 8414 metadata must describe the server that serves it: every URL answers, the
// algorithms are the ones our verifiers accept, the scopes are the ones the API enforces.

let t: TestServer;
let meta: Record<string, unknown>;

// The issuer is configured before the port is known (test/support/server.ts): the metadata's URLs
// are the issuer's, reached here on the test server's address.
const local = (url: unknown) => String(url).replace(t.issuer, t.url);

beforeAll(async () => {
  t = await startTestServer();
  meta = (await (await fetch(`${t.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
});
afterAll(() => t.close());

describe("authorization server metadata", () => {
  it("is the same document at the RFC 8414 and the OpenID Connect paths", async () => {
    const openid = await fetch(`${t.url}/.well-known/openid-configuration`);
    expect(openid.status).toBe(200);
    expect(await openid.json()).toEqual(meta);
  });

  it("lists the endpoints and the fields the issue asks for, and says it issues no ID tokens", () => {
    expect(meta).toEqual({
      issuer: t.issuer,
      token_endpoint: `${t.issuer}/oauth/token`,
      jwks_uri: `${t.issuer}/.well-known/jwks.json`,
      introspection_endpoint: `${t.issuer}/oauth/introspect`,
      revocation_endpoint: `${t.issuer}/oauth/revoke`,
      scopes_supported: [...adminScopes].sort(),
      response_types_supported: [],
      grant_types_supported: ["client_credentials"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
      token_endpoint_auth_signing_alg_values_supported: expect.any(Array) as unknown,
      introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
      introspection_endpoint_auth_signing_alg_values_supported: meta["token_endpoint_auth_signing_alg_values_supported"],
      revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
      revocation_endpoint_auth_signing_alg_values_supported: meta["token_endpoint_auth_signing_alg_values_supported"],
      revocation_list_uri: `${t.issuer}/oauth/revoked`,
    });
    // No ID tokens: the OpenID-only fields are absent (RFC 8414 §2 lets a server omit them).
    expect(meta).not.toHaveProperty("id_token_signing_alg_values_supported");
    expect(meta).not.toHaveProperty("subject_types_supported");
  });

  it("names endpoints that answer: a token, an introspection and a revocation for the admin, and the key set", async () => {
    const form = (extra: Record<string, string>) => ({
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: t.admin.clientId, client_secret: t.admin.clientSecret, ...extra }),
    });
    const issued = await fetch(local(meta["token_endpoint"]), form({ grant_type: "client_credentials" }));
    const { access_token: token } = (await issued.json()) as { access_token: string };
    expect([issued.status, typeof token]).toEqual([200, "string"]);
    const introspected = await fetch(local(meta["introspection_endpoint"]), form({ token }));
    expect([introspected.status, ((await introspected.json()) as { active: boolean }).active]).toEqual([200, true]);
    expect((await fetch(local(meta["revocation_endpoint"]), form({ token }))).status).toBe(200);
    const after = await fetch(local(meta["introspection_endpoint"]), form({ token }));
    expect(await after.json()).toEqual({ active: false });
    const jwks = await fetch(local(meta["jwks_uri"]));
    expect([jwks.status, ((await jwks.json()) as { keys: unknown[] }).keys.length > 0]).toEqual([200, true]);
  });

  it("publishes exactly the asymmetric algorithms client assertions are checked with: each one is accepted, HMAC and none are not", () => {
    const algorithms = meta["token_endpoint_auth_signing_alg_values_supported"] as string[];
    expect(algorithms).toEqual(expect.arrayContaining(["RS256", "ES256", "EdDSA"]));
    // The list private_key_jwt assertions are checked against (tokens/client-assertion.ts).
    expect(algorithms).toEqual([...clientAssertionAlgorithms]);
    const verifier = (list: string[]) => () => createTokenVerifier({ issuer: t.issuer, keys: { keys: [] }, algorithms: list });
    for (const alg of algorithms) expect(verifier([alg])).not.toThrow();
    for (const alg of ["none", "HS256", "HS384", "HS512"]) {
      expect(algorithms).not.toContain(alg);
      expect(verifier([alg])).toThrow(TypeError);
    }
  });

  it("publishes the scopes the management API enforces: the admin's token carries them all", async () => {
    const token = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const granted = (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { scope: string }).scope.split(" ");
    expect([...granted].sort()).toEqual(meta["scopes_supported"]);
  });
});
