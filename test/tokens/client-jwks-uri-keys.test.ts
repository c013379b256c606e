import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { decodeJwt, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { createClientJwksUriKeys } from "../../src/tokens/client-jwks-uri-keys.js";
import { fakeClock } from "../interceptor/fake-clock.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";
import { jwtBearer, newClientKey, signAssertion, type ClientKey } from "./assertion-fixtures.js";
import { startJwksServer, type JwksServer } from "./jwks-server.js";

// private_key_jwt for clients registered with a jwks_uri: their keys served by a key server the
// test starts on 127.0.0.1 (an allowed origin), over real HTTP and Redis, on a fake clock.

const clock = fakeClock();
const cooldownMs = 30_000;
let t: TestServer;
let api: ManagementApi;
let keys: JwksServer;
let downOrigin: string;
let key: ClientKey;

interface TokenAnswer {
  status: number;
  json: { access_token?: string; error?: string; error_description?: string };
}

async function exchange(assertion: string): Promise<TokenAnswer> {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: jwtBearer, client_assertion: assertion }),
  });
  return { status: res.status, json: (await res.json()) as TokenAnswer["json"] };
}

async function refused(answer: Promise<TokenAnswer>, description: RegExp, error = "invalid_client", status = 401): Promise<void> {
  const { status: got, json } = await answer;
  expect({ status: got, error: json.error }).toEqual({ status, error });
  expect(json.error_description).toMatch(description);
}

const assertion = (signer: ClientKey, clientId: string) => signAssertion(signer, clientId, `${t.issuer}/oauth/token`, { nowSeconds: clock.seconds() });

/** registerAt serves `published` at `path` and registers a client whose jwks_uri is it (on `origin`). */
async function registerAt(path: string, published: JWK[] | undefined, origin = keys.origin): Promise<string> {
  if (published !== undefined) keys.documents.set(path, { keys: published });
  const registered = await api.register("org_jwksuri", { ...seedClient, jwks_uri: `${origin}${path}` });
  expect(registered.client).toMatchObject({ jwks_uri: `${origin}${path}` });
  return registered.id;
}

beforeAll(async () => {
  keys = await startJwksServer();
  const down = await startJwksServer();
  downOrigin = down.origin;
  await down.close();
  key = await newClientKey("ES256");
  t = await startTestServer({
    now: clock.now,
    clientJwks: { clientJwksOrigins: [keys.origin, downOrigin], clientJwksFetch: { timeoutMs: 2000, cooldownMs } },
  });
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
});
afterAll(async () => {
  await t.close();
  await keys.close();
});

describe("private_key_jwt with keys at a jwks_uri", () => {
  it("issues a token for an assertion signed with a key at the client's jwks_uri, fetching the document once", async () => {
    const rsa = await newClientKey("RS256");
    const clientId = await registerAt("/accept", [key.publicJwk, { ...rsa.publicJwk, alg: "RS256", use: "sig" }]);
    // Registration fetches nothing: the document is read on the client's first assertion.
    expect(keys.requests.get("/accept")).toBeUndefined();
    const answer = await exchange(await assertion(key, clientId));
    expect(answer.status).toBe(200);
    expect(decodeJwt(answer.json.access_token ?? "")).toMatchObject({ sub: clientId, client_id: clientId });
    expect((await exchange(await assertion(rsa, clientId))).status).toBe(200);
    expect(keys.requests.get("/accept")).toBe(1);
    // Over RPC too, the same path.
    const rpc = createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const issued = await rpc.issueToken({ grantType: "client_credentials", clientAssertionType: jwtBearer, clientAssertion: await assertion(key, clientId) });
    expect(decodeJwt(issued.accessToken).sub).toBe(clientId);
  });

  it("refuses a replayed jti, and a key the document does not hold", async () => {
    const clientId = await registerAt("/replay", [key.publicJwk]);
    const jwt = await assertion(key, clientId);
    expect((await exchange(jwt)).status).toBe(200);
    await refused(exchange(jwt), /used already/);
    await refused(exchange(await assertion(await newClientKey("ES256", key.kid), clientId)), /no registered key/);
  });

  it("follows a key rotation at the uri: an unknown kid refetches once per cooldown", async () => {
    const [first, second, third] = await Promise.all([newClientKey("ES256"), newClientKey("ES256"), newClientKey("ES256")]);
    const clientId = await registerAt("/rotate", [first.publicJwk]);
    expect((await exchange(await assertion(first, clientId))).status).toBe(200);
    keys.documents.set("/rotate", { keys: [second.publicJwk] });
    // Just fetched: an unknown kid does not make the service fetch again within the cooldown.
    await refused(exchange(await assertion(second, clientId)), /no registered key/);
    expect(keys.requests.get("/rotate")).toBe(1);
    clock.advance(cooldownMs + 1000);
    expect((await exchange(await assertion(second, clientId))).status).toBe(200);
    expect(keys.requests.get("/rotate")).toBe(2);
    // The rotated-out key is gone with the document that held it; a third kid waits for the cooldown.
    await refused(exchange(await assertion(first, clientId)), /no registered key/);
    await refused(exchange(await assertion(third, clientId)), /no registered key/);
    expect(keys.requests.get("/rotate")).toBe(2);
  });

  it("answers temporarily_unavailable (503, retryable) in bounded time when the uri cannot be reached, and asks once per cooldown", async () => {
    const clientId = await registerAt("/jwks", undefined, downOrigin);
    const started = Date.now();
    await refused(exchange(await assertion(key, clientId)), /could not be read; retry later/, "temporarily_unavailable", 503);
    expect(Date.now() - started).toBeLessThan(2500);
    // An error status is a passing failure too.
    const missing = await registerAt("/not-served", undefined);
    await refused(exchange(await assertion(key, missing)), /retry later/, "temporarily_unavailable", 503);
    await refused(exchange(await assertion(key, missing)), /retry later/, "temporarily_unavailable", 503);
    expect(keys.requests.get("/not-served")).toBe(1);
    // Once the client serves its keys and the cooldown has passed, it authenticates.
    keys.documents.set("/not-served", { keys: [key.publicJwk] });
    clock.advance(cooldownMs + 1000);
    expect((await exchange(await assertion(key, missing))).status).toBe(200);
    const rpc = createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const err = await rpc.issueToken({ grantType: "client_credentials", clientAssertionType: jwtBearer, clientAssertion: await assertion(key, clientId) }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unavailable);
  });

  it("does not follow a redirect, even to a document on the same allowed origin", async () => {
    keys.documents.set("/target", { keys: [key.publicJwk] });
    keys.redirects.set("/moved", `${keys.origin}/target`);
    const clientId = await registerAt("/moved", undefined);
    await refused(exchange(await assertion(key, clientId)), /jwks_uri cannot be used: .*redirect, is not followed/);
    expect(keys.requests.get("/moved")).toBe(1);
    expect(keys.requests.get("/target")).toBeUndefined();
  });

  it("refuses a whole document that publishes a private or symmetric key, or a key refused at registration", async () => {
    const holder = await newClientKey("ES256");
    const cases: [string, JWK[], RegExp][] = [
      ["/private", [key.publicJwk, { ...holder.privateJwk, kid: "leaked" }], /jwks_uri\.keys\[1\]: holds private or symmetric key material/],
      ["/symmetric", [key.publicJwk, { kty: "oct", kid: "hmac", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" }], /private or symmetric/],
      ["/no-kid", [key.publicJwk, { ...holder.publicJwk, kid: undefined }], /jwks_uri\.keys\[1\]\.kid: is required/],
    ];
    for (const [path, published, message] of cases) {
      const clientId = await registerAt(path, published);
      // The key the assertion names is fine; the document around it is not.
      await refused(exchange(await assertion(key, clientId)), message);
      await refused(exchange(await assertion(key, clientId)), /document is refused/);
    }
  });
});

describe("createClientJwksUriKeys", () => {
  it("holds at most maxUris documents, dropping the least recently used, and never fetches a uri off the allowed origins", async () => {
    for (const path of ["/lru-a", "/lru-b", "/lru-c"]) keys.documents.set(path, { keys: [key.publicJwk] });
    const uriKeys = createClientJwksUriKeys({ origins: [keys.origin], maxUris: 2, now: clock.now });
    const find = (path: string) => uriKeys.find(`${keys.origin}${path}`, key.kid);
    await find("/lru-a");
    await find("/lru-b");
    await find("/lru-a"); // a is now the most recently used
    await find("/lru-c"); // drops b
    await find("/lru-a");
    expect([keys.requests.get("/lru-a"), keys.requests.get("/lru-b"), keys.requests.get("/lru-c")]).toEqual([1, 1, 1]);
    expect((await find("/lru-b"))?.kid).toBe(key.kid);
    expect(keys.requests.get("/lru-b")).toBe(2);
    await expect(uriKeys.find(`${downOrigin}/jwks`, key.kid)).rejects.toThrow(/not on an origin this service may fetch keys from/);
  });
});
