import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { decodeJwt, SignJWT } from "jose";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { fakeClock } from "../interceptor/fake-clock.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";
import { jwtBearer, newClientKey, unsignedAssertion } from "./assertion-fixtures.js";
import { startLocalIssuer, type LocalIssuer } from "./federated-issuer.js";

// Workload identity federation at POST /oauth/token and IssueToken: tokens of external issuers
// the test starts on 127.0.0.1 (their own keys and discovery documents), over real HTTP and Redis.

const clock = fakeClock();
let t: TestServer;
let api: ManagementApi;
let clientId: string;
let otherClientId: string;
// github: a GitHub-like issuer, listed; unlisted: not in M2M_FEDERATED_ISSUERS; liar: its document
// names another issuer; redirecting: its discovery endpoint redirects to github's; down: nothing listens.
let github: LocalIssuer;
let unlisted: LocalIssuer;
let liar: LocalIssuer;
let redirecting: LocalIssuer;
let downUrl: string;
const mainSubject = "repo:acmecorp/inventory-service:ref:refs/heads/main";

interface TokenAnswer {
  status: number;
  json: { access_token?: string; error?: string; error_description?: string };
}

/** exchange posts the assertion with `id` as client_id (null: none sent). */
async function exchange(assertion: string, id: string | null = clientId): Promise<TokenAnswer> {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      ...(id === null ? {} : { client_id: id }),
      client_assertion_type: jwtBearer,
      client_assertion: assertion,
    }),
  });
  return { status: res.status, json: (await res.json()) as TokenAnswer["json"] };
}

async function refused(answer: Promise<TokenAnswer>, description: RegExp, error = "invalid_client", status = 401): Promise<void> {
  const { status: got, json } = await answer;
  expect({ status: got, error: json.error }).toEqual({ status, error });
  expect(json.error_description).toMatch(description);
}

const noMatch = /matches no federated identity/;
const notVerified = /no key of its issuer verifies it/;
const mainToken = (claims: Record<string, unknown> = {}, issuer = github) =>
  issuer.token({ sub: mainSubject, aud: t.issuer, ...claims }, { nowSeconds: clock.seconds() });

beforeAll(async () => {
  [github, unlisted, liar, redirecting] = await Promise.all([startLocalIssuer(), startLocalIssuer(), startLocalIssuer(), startLocalIssuer()]);
  const down = await startLocalIssuer();
  downUrl = down.url;
  await down.close();
  liar.misbehave.discoveryIssuer = "https://token.actions.githubusercontent.com";
  redirecting.misbehave.redirectTo = `${github.url}/.well-known/openid-configuration`;
  t = await startTestServer({
    now: clock.now,
    federated: { federatedIssuers: [github.url, liar.url, redirecting.url, downUrl], federatedFetch: { timeoutMs: 2000 } },
  });
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
  const registered = await api.register("org_fed", {
    ...seedClient,
    federated_identities: [
      { issuer: github.url, subject: mainSubject },
      { issuer: github.url, subject: "repo:acmecorp/tools:*", audience: "https://deploy.acmecorp.example" },
      ...[liar.url, redirecting.url, downUrl].map((issuer) => ({ issuer, subject: mainSubject })),
    ],
  });
  clientId = registered.id;
  otherClientId = (await api.register("org_fed")).id;
});
afterAll(async () => {
  await t.close();
  await Promise.all([github, unlisted, liar, redirecting].map((issuer) => issuer.close()));
});

describe("federated client assertions at /oauth/token", () => {
  it("issues a token for the client for an exact subject and for a glob, with ES256 or RS256", async () => {
    const answer = await exchange(await mainToken());
    expect(answer.status).toBe(200);
    expect(decodeJwt(answer.json.access_token ?? "")).toMatchObject({ sub: clientId, client_id: clientId, aud: seedClient.audience[0] });
    expect((await exchange(await github.token({ sub: mainSubject, aud: [t.issuer, "x"] }, { key: github.rs256, nowSeconds: clock.seconds() }))).status).toBe(
      200,
    );
    const glob = await github.token({ sub: "repo:acmecorp/tools:ref:refs/heads/dev", aud: "https://deploy.acmecorp.example" }, { nowSeconds: clock.seconds() });
    expect((await exchange(glob)).status).toBe(200);
  });

  it("requires client_id: the token's iss and sub are the issuer's, not the client's", async () => {
    await refused(exchange(await mainToken(), null), /client_id is required/);
  });

  it("refuses, alike, another subject or audience, a glob's bare prefix, another client, an unknown client", async () => {
    await refused(exchange(await mainToken({ sub: "repo:acmecorp/inventory-service:ref:refs/heads/evil" })), noMatch);
    await refused(exchange(await mainToken({ sub: "repo:acmecorp/tools:" })), noMatch);
    await refused(exchange(await mainToken({ aud: "https://elsewhere.example" })), noMatch);
    await refused(exchange(await mainToken({ sub: "repo:acmecorp/tools:ref:refs/heads/main" })), noMatch); // the glob's audience differs
    await refused(exchange(await mainToken(), otherClientId), noMatch);
    await refused(exchange(await mainToken(), "m2morg_aaaaaaunknownclientid"), noMatch);
  });

  it("never fetches from an issuer that is not listed", async () => {
    const token = await unlisted.token({ sub: mainSubject, aud: t.issuer }, { nowSeconds: clock.seconds() });
    await refused(exchange(token), /iss must be the client_id/);
    expect(unlisted.requests.size).toBe(0);
  });

  it("refuses an expired token by the server's clock, an exp more than an hour ahead, a missing exp, a future iat", async () => {
    const jwt = await mainToken({ exp: clock.seconds() + 60 });
    clock.advance((60 + 30 + 1) * 1000);
    await refused(exchange(jwt), /expired/);
    await refused(exchange(await mainToken({ exp: clock.seconds() + 3600 + 31 })), /at most 3600 seconds/);
    expect((await exchange(await mainToken({ exp: clock.seconds() + 3600 }))).status).toBe(200);
    await refused(exchange(await mainToken({ exp: undefined })), /must carry exp/);
    await refused(exchange(await mainToken({ iat: clock.seconds() + 120, nbf: undefined })), /iat/);
  });

  it("refuses a replayed jti, and a replayed token without jti (by its digest), the first use having succeeded", async () => {
    const jwt = await mainToken();
    expect((await exchange(jwt)).status).toBe(200);
    await refused(exchange(jwt), /used already/);
    const withoutJti = await mainToken({ jti: undefined });
    expect((await exchange(withoutJti)).status).toBe(200);
    await refused(exchange(withoutJti), /used already/);
  });

  it("refuses alg none and HS256 keyed with the issuer's public key", async () => {
    const claims = { iss: github.url, sub: mainSubject, aud: t.issuer, exp: clock.seconds() + 60, jti: randomUUID() };
    await refused(exchange(unsignedAssertion(github.es256.kid, claims)), /alg must be one of/);
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: github.es256.kid })
      .sign(new TextEncoder().encode(JSON.stringify(github.es256.publicJwk)));
    await refused(exchange(hmac), /alg must be one of/);
  });

  it("refuses a wrong key under a known kid, and an unknown kid, refetching the JWKS at most once per cooldown", async () => {
    const forged = await newClientKey("ES256", github.es256.kid);
    await refused(exchange(await github.token({ sub: mainSubject, aud: t.issuer }, { key: forged, nowSeconds: clock.seconds() })), notVerified);
    const before = github.requests.get("/jwks") ?? 0;
    for (let i = 0; i < 3; i++) {
      const stranger = await newClientKey("ES256");
      await refused(exchange(await github.token({ sub: mainSubject, aud: t.issuer }, { key: stranger, nowSeconds: clock.seconds() })), notVerified);
    }
    expect((github.requests.get("/jwks") ?? 0) - before).toBe(1);
    // After the cooldown (30 s) an unknown kid may refetch once more: a rotated key is found.
    clock.advance(31_000);
    await refused(
      exchange(await github.token({ sub: mainSubject, aud: t.issuer }, { key: await newClientKey("ES256"), nowSeconds: clock.seconds() })),
      notVerified,
    );
    expect((github.requests.get("/jwks") ?? 0) - before).toBe(2);
  });

  it("answers temporarily_unavailable (503, retryable) in bounded time when the issuer cannot be reached", async () => {
    const started = Date.now();
    const token = await github.token({ iss: downUrl, sub: mainSubject, aud: t.issuer }, { nowSeconds: clock.seconds() });
    await refused(exchange(token), /cannot be reached/, "temporarily_unavailable", 503);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("refuses an issuer whose discovery document names another issuer, and one whose discovery redirects (not followed)", async () => {
    await refused(exchange(await mainToken({}, liar)), notVerified);
    expect(liar.requests.get("/jwks")).toBeUndefined();
    const githubDiscoveries = github.requests.get("/.well-known/openid-configuration");
    await refused(exchange(await mainToken({}, redirecting)), notVerified);
    expect(redirecting.requests.get("/.well-known/openid-configuration")).toBe(1);
    expect(github.requests.get("/.well-known/openid-configuration")).toBe(githubDiscoveries);
  });

  it("reads each issuer's discovery document once while it is fresh", () => {
    expect(github.requests.get("/.well-known/openid-configuration")).toBe(1);
  });
});

describe("federated client assertions by IssueToken", () => {
  it("issues for a good token and answers Unauthenticated for a replay", async () => {
    const tokens = createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const jwt = await mainToken();
    const issued = await tokens.issueToken({ clientId, clientAssertionType: jwtBearer, clientAssertion: jwt });
    expect(decodeJwt(issued.accessToken).sub).toBe(clientId);
    const code = await tokens.issueToken({ clientId, clientAssertionType: jwtBearer, clientAssertion: jwt }).then(
      () => undefined,
      (err: unknown) => ConnectError.from(err).code,
    );
    expect(code).toBe(Code.Unauthenticated);
  });
});
