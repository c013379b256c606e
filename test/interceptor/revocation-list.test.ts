import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTokenVerifier, type AuthInterceptorOptions } from "../../src/interceptor/index.js";
import { managementApi, type RegisteredClient } from "../support/management-api.js";
import { getToken, startTestServer, type TestServer as IssuerServer } from "../support/server.js";
import { fakeClock, type FakeClock } from "./fake-clock.js";
import { bearer, clients, failure, GET, serveJson, startServer, transports, type OrgClient, type TestServer } from "./fixtures.js";

// The interceptor's revocation check against the real issuer: a token revoked there (RFC 7009) is
// refused by a protected service once its list is older than maxAge, cached tokens included; off
// by default; fail closed once the list has been unreachable past its bound. A fake clock ages the
// list; the issuer, its list and the calls are real.

const audience = "deployment-api.acmecorp.com";
const [, grpc] = transports[0] as [string, (baseUrl: string) => import("@connectrpc/connect").Transport];
let issuer: IssuerServer;
let owner: RegisteredClient;
let service: TestServer | undefined;
let clock: FakeClock;
let fetches: number;

beforeAll(async () => {
  issuer = await startTestServer();
  owner = await managementApi(issuer.url, await getToken(issuer.url, issuer.admin.clientId, issuer.admin.clientSecret)).register("org_revoked_list");
});
afterAll(() => issuer.close());
afterEach(async () => {
  await service?.close();
  service = undefined;
});

// A fetch that counts the list's requests and otherwise is the platform's.
const counting: typeof fetch = (input, init) => {
  if (String(input instanceof Request ? input.url : input).endsWith("/oauth/revoked")) fetches++;
  return fetch(input, init);
};

async function protect(at: IssuerServer, extra: Partial<AuthInterceptorOptions> = {}): Promise<OrgClient> {
  clock = fakeClock();
  fetches = 0;
  service = await startServer({
    issuer: at.issuer,
    audience,
    keys: { jwksUri: `${at.url}/.well-known/jwks.json` },
    requiredScopes: { [GET]: ["read:deployments"] },
    clock: clock.now,
    ...extra,
  });
  return clients(grpc(service.baseUrl)).org;
}
const revocation = (at: IssuerServer, more: object = {}) => ({ revocation: { uri: `${at.url}/oauth/revoked`, fetch: counting, ...more } });
const revoke = (token: string) =>
  fetch(`${issuer.url}/oauth/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: owner.id, client_secret: owner.secret, token }),
  });
const call = async (org: OrgClient, token: string) => (await org.getOrganizationClient({}, bearer(token))).client?.clientId;

describe("interceptor revocation check", () => {
  it("refuses a token revoked at the issuer once the list is maxAge old, though the token is in the verified-token cache", async () => {
    const org = await protect(issuer, revocation(issuer));
    const [token, other] = [await getToken(issuer.url, owner.id, owner.secret), await getToken(issuer.url, owner.id, owner.secret)];
    expect(await call(org, token)).toBe(owner.id);
    expect(fetches).toBe(1);
    expect((await revoke(token)).status).toBe(200);
    // Within maxAge the copy held is used: the documented latency.
    clock.advance(3000);
    expect(await call(org, token)).toBe(owner.id);
    clock.advance(2000);
    const err = await failure(call(org, token));
    expect([err.code, err.rawMessage]).toEqual([Code.Unauthenticated, "token revoked"]);
    expect(err.metadata.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="token revoked"');
    expect(err.metadata.get("m2m-auth-refused")).toBe("before-handler");
    // And on every call after, from the cache; the client's other token is untouched.
    expect((await failure(call(org, token))).rawMessage).toBe("token revoked");
    expect(await call(org, other)).toBe(owner.id);
    expect(fetches).toBe(2);
  });

  it("refreshes ahead in the background, so steady calls never wait: one fetch per maxAge", async () => {
    const org = await protect(issuer, revocation(issuer));
    const token = await getToken(issuer.url, owner.id, owner.secret);
    for (let i = 0; i < 10; i++) {
      expect(await call(org, token)).toBe(owner.id);
      clock.advance(1000);
      // Let a background fetch land before the next call.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(fetches).toBeGreaterThanOrEqual(2);
    expect(fetches).toBeLessThanOrEqual(3);
  });

  it("is off by default: a revoked token passes until its exp, and nothing is fetched", async () => {
    const org = await protect(issuer, { keys: { jwksUri: `${issuer.url}/.well-known/jwks.json`, fetch: counting } });
    const token = await getToken(issuer.url, owner.id, owner.secret);
    await revoke(token);
    clock.advance(60_000);
    expect(await call(org, token)).toBe(owner.id);
    expect(fetches).toBe(0);
    clock.advance(3600_000);
    expect((await failure(call(org, token))).rawMessage).toBe("token expired");
  });

  it("fails closed: the last list rides out an outage for maxStaleMs, then every token is refused as Unavailable", async () => {
    const other = await startTestServer({ backend: "memory" });
    try {
      const api = managementApi(other.url, await getToken(other.url, other.admin.clientId, other.admin.clientSecret));
      const client = await api.register("org_outage");
      const org = await protect(other, revocation(other, { maxStaleMs: 30_000 }));
      const token = await getToken(other.url, client.id, client.secret);
      const fresh = await getToken(other.url, client.id, client.secret);
      expect(await call(org, token)).toBe(client.id);
      await other.close(); // the list (and the token endpoint) are gone; the JWKS stays cached
      clock.advance(5000);
      expect(await call(org, token)).toBe(client.id); // stale, within the bound
      clock.advance(30_001);
      for (const t of [token, fresh]) {
        const err = await failure(call(org, t));
        expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, "the revocation list is unavailable"]);
      }
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  it("refuses every token while no list was ever fetched, and a malformed list counts as none", async () => {
    const bad = await serveJson({ revoked: [{ jti: "a" }, { exp: 1 }] });
    try {
      const org = await protect(issuer, { revocation: { uri: bad.url } });
      const err = await failure(call(org, await getToken(issuer.url, owner.id, owner.secret)));
      expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, "the revocation list is unavailable"]);
      expect(bad.requests).toBe(1);
    } finally {
      await bad.close();
    }
  });

  it("checks its options, naming the one at fault", () => {
    const base = { issuer: "https://auth.test", audience, keys: { keys: [] } };
    const bad: [object, RegExp][] = [
      [{ uri: "ftp://x/y" }, /revocation\.uri/],
      [{ uri: "/oauth/revoked" }, /revocation\.uri/],
      [{ maxAgeMs: 0 }, /revocation\.maxAgeMs/],
      [{ maxStaleMs: -1 }, /revocation\.maxStaleMs/],
      [{ timeoutMs: Number.NaN }, /revocation\.timeoutMs/],
      [{ fetch: "no" }, /revocation\.fetch/],
    ];
    for (const [revocation, message] of bad) expect(() => createTokenVerifier({ ...base, revocation })).toThrow(message);
    expect(() => createTokenVerifier({ ...base, revocation: null } as never)).toThrow(/revocation: must be an object/);
    expect(() => createTokenVerifier({ ...base, revocation: {} })).not.toThrow();
    expect(() => createTokenVerifier({ ...base, revocation: false })).not.toThrow();
  });
});
