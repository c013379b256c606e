import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Code, ConnectError } from "@connectrpc/connect";
import { decodeJwt, importJWK, SignJWT, type CryptoKey } from "jose";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { fakeClock } from "../interceptor/fake-clock.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";
import { jwtBearer, newClientKey, signAssertion, unsignedAssertion, type AssertionOptions, type ClientKey } from "./assertion-fixtures.js";

// RFC 7523 private_key_jwt at POST /oauth/token and IssueToken, over real HTTP against Redis.

const clock = fakeClock();
let t: TestServer;
let api: ManagementApi;
let clientId: string;
let secret: string;
let key: ClientKey;
let rsaKey: ClientKey;
let tokenEndpoint: string;

interface TokenAnswer {
  status: number;
  json: { access_token?: string; error?: string; error_description?: string };
}

async function token(params: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenAnswer> {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ grant_type: "client_credentials", ...params }),
  });
  return { status: res.status, json: (await res.json()) as TokenAnswer["json"] };
}

const assertion = (options: AssertionOptions = {}, signer = key, id = clientId) =>
  signAssertion(signer, id, tokenEndpoint, { nowSeconds: clock.seconds(), ...options });
const withAssertion = (jwt: string, extra: Record<string, string> = {}) => token({ client_assertion_type: jwtBearer, client_assertion: jwt, ...extra });

async function refused(answer: Promise<TokenAnswer>, description: RegExp, error = "invalid_client", status = 401): Promise<void> {
  const { status: got, json } = await answer;
  expect({ status: got, error: json.error }).toEqual({ status, error });
  expect(json.error_description).toMatch(description);
}

beforeAll(async () => {
  t = await startTestServer({ now: clock.now });
  tokenEndpoint = `${t.issuer}/oauth/token`;
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
  [key, rsaKey] = await Promise.all([newClientKey("ES256"), newClientKey("RS256")]);
  const registered = await api.register("org_pkjwt", { ...seedClient, jwks: { keys: [key.publicJwk, { ...rsaKey.publicJwk, alg: "RS256" }] } });
  ({ id: clientId, secret } = registered);
});
afterAll(() => t.close());

describe("private_key_jwt at /oauth/token", () => {
  it("issues a token for an assertion signed with a registered key, with or without client_id", async () => {
    const answer = await withAssertion(await assertion());
    expect(answer.status).toBe(200);
    expect(decodeJwt(answer.json.access_token ?? "")).toMatchObject({ sub: clientId, client_id: clientId, aud: seedClient.audience[0] });
    expect((await withAssertion(await assertion(), { client_id: clientId })).status).toBe(200);
    expect((await withAssertion(await assertion({}, rsaKey))).status).toBe(200);
    // RFC 7523 §3 item 3: the issuer identifies the authorization server as well as its token endpoint.
    expect((await withAssertion(await assertion({ claims: { aud: t.issuer } }))).status).toBe(200);
    // The seed's secret still works beside the keys.
    expect((await token({ client_id: clientId, client_secret: secret })).status).toBe(200);
  });

  it("refuses a replayed jti, the first use having succeeded", async () => {
    const jwt = await assertion();
    expect((await withAssertion(jwt)).status).toBe(200);
    await refused(withAssertion(jwt), /used already/);
  });

  it("refuses an assertion signed by a key that is not registered, even under a registered kid", async () => {
    await refused(withAssertion(await assertion({}, await newClientKey("ES256", key.kid))), /no registered key/);
    await refused(withAssertion(await assertion({}, await newClientKey("ES256"))), /no registered key/);
  });

  it("refuses an expired assertion, by the server's clock", async () => {
    const jwt = await assertion();
    clock.advance((60 + 30 + 1) * 1000);
    await refused(withAssertion(jwt), /expired/);
  });

  it("refuses an exp more than 5 minutes ahead, a missing exp or jti, a future iat", async () => {
    await refused(withAssertion(await assertion({ claims: { exp: clock.seconds() + 301 + 30 } })), /at most 300 seconds/);
    expect((await withAssertion(await assertion({ claims: { exp: clock.seconds() + 300 } }))).status).toBe(200);
    await refused(withAssertion(await assertion({ claims: { exp: undefined } })), /must carry exp/);
    await refused(withAssertion(await assertion({ claims: { jti: undefined } })), /must carry jti/);
    await refused(withAssertion(await assertion({ claims: { iat: clock.seconds() + 120 } })), /iat/);
  });

  it("refuses a wrong aud", async () => {
    await refused(withAssertion(await assertion({ claims: { aud: "https://elsewhere.example/oauth/token" } })), /aud must be one of/);
  });

  it("refuses alg none and HS256 keyed with the registered public key", async () => {
    const claims = { iss: clientId, sub: clientId, aud: tokenEndpoint, exp: clock.seconds() + 60, jti: randomUUID() };
    await refused(withAssertion(unsignedAssertion(key.kid, claims)), /alg must be one of/);
    for (const secretText of [JSON.stringify(key.publicJwk), JSON.stringify(rsaKey.publicJwk)]) {
      const hmac = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: key.kid }).sign(new TextEncoder().encode(secretText));
      await refused(withAssertion(hmac), /alg must be one of/);
    }
  });

  it("refuses iss ≠ sub, iss ≠ client_id, an unknown client, and a key used with another algorithm", async () => {
    await refused(withAssertion(await assertion({ claims: { sub: "someone-else" } })), /sub must equal its iss/);
    await refused(withAssertion(await assertion(), { client_id: "m2morg_other" }), /iss must be the client_id/);
    await refused(withAssertion(await assertion({}, key, "m2morg_aaaaaaunknownclientid")), /no registered key/);
    // The RSA key is registered for RS256 only: the same key signing PS256 is refused.
    const pss = (await importJWK(rsaKey.privateJwk, "PS256")) as CryptoKey;
    await refused(withAssertion(await assertion({}, { ...rsaKey, alg: "PS256", privateKey: pss })), /no registered key/);
  });

  it("allows one authentication method per request (RFC 6749 §2.3) and only the jwt-bearer type", async () => {
    const jwt = await assertion();
    await refused(withAssertion(jwt, { client_id: clientId, client_secret: secret }), /exactly one/, "invalid_request", 400);
    const basic = `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`;
    await refused(token({ client_assertion_type: jwtBearer, client_assertion: jwt }, { authorization: basic }), /exactly one/, "invalid_request", 400);
    await refused(token({ client_assertion: jwt }), /required together/, "invalid_request", 400);
    await refused(token({ client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", client_assertion: jwt }), /client_assertion_type/);
    await refused(withAssertion("not.a.jwt"), /not a signed JWT/);
    // The refused requests did not use the jti up.
    expect((await withAssertion(jwt)).status).toBe(200);
  });
});

describe("private_key_jwt by IssueToken", () => {
  it("issues for a good assertion and answers Unauthenticated for a replay or an HMAC", async () => {
    const tokens = createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const jwt = await assertion();
    const issued = await tokens.issueToken({ clientAssertionType: jwtBearer, clientAssertion: jwt });
    expect(decodeJwt(issued.accessToken).sub).toBe(clientId);
    const codeOf = (call: Promise<unknown>) =>
      call.then(
        () => undefined,
        (err: unknown) => ConnectError.from(err).code,
      );
    expect(await codeOf(tokens.issueToken({ clientAssertionType: jwtBearer, clientAssertion: jwt }))).toBe(Code.Unauthenticated);
    const hmac = await new SignJWT({ iss: clientId, sub: clientId, aud: tokenEndpoint, exp: clock.seconds() + 60, jti: randomUUID() })
      .setProtectedHeader({ alg: "HS256", kid: key.kid })
      .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
    expect(await codeOf(tokens.issueToken({ clientId, clientAssertionType: jwtBearer, clientAssertion: hmac }))).toBe(Code.Unauthenticated);
    expect(await codeOf(tokens.issueToken({ clientId, clientSecret: secret, clientAssertionType: jwtBearer, clientAssertion: await assertion() }))).toBe(
      Code.InvalidArgument,
    );
  });
});
