import { Code } from "@connectrpc/connect";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RemoteKeys } from "../../src/interceptor/index.js";
import { fakeClock, type FakeClock } from "./fake-clock.js";
import {
  AUDIENCE,
  bearer,
  claims,
  clients,
  failure,
  ISSUER,
  jwksOf,
  makeKey,
  sign,
  startServer,
  transports,
  type OrgClient,
  type TestKey,
  type TestServer,
} from "./fixtures.js";
import { startJwksServer, type JwksServer } from "./jwks-server.js";

// The interceptor against a real JWKS endpoint, over real transports, with a fake clock.

let es: TestKey;
let es2: TestKey;

beforeAll(async () => {
  [es, es2] = await Promise.all([makeKey("ES256", "es-1"), makeKey("ES256", "es-2")]);
});

describe.each(transports)("remote JWKS over %s", (_name, makeTransport) => {
  let jwks: JwksServer | undefined;
  let server: TestServer | undefined;
  let clock: FakeClock;
  let org: OrgClient;

  afterEach(async () => {
    await server?.close();
    await jwks?.close();
    server = jwks = undefined;
  });

  async function start(keys: Omit<RemoteKeys, "jwksUri"> | "shorthand" = {}, body = jwksOf(es)): Promise<JwksServer> {
    jwks = await startJwksServer(body);
    clock = fakeClock();
    const source = keys === "shorthand" ? { jwksUri: jwks.url } : { keys: { jwksUri: jwks.url, ...keys } };
    server = await startServer({ issuer: ISSUER, audience: AUDIENCE, ...source, clock: clock.now });
    ({ org } = clients(makeTransport(server.baseUrl)));
    return jwks;
  }

  // A new token each time (fresh jti), valid for an hour of the fake clock, so no token cache hides a fetch.
  const tokenOf = (key: TestKey) => sign(key, claims({ iat: clock.seconds(), nbf: clock.seconds(), exp: clock.seconds() + 3600 }));
  const call = async (key: TestKey) => (await org.getOrganizationClient({}, bearer(await tokenOf(key)))).client?.clientId;
  async function refused(key: TestKey, code: Code, message?: string): Promise<void> {
    const err = await failure(call(key));
    expect(err.code).toBe(code);
    if (message !== undefined) expect(err.rawMessage).toBe(message);
  }

  it("fetches the JWKS lazily: nothing before the first call (jwksUri shorthand)", async () => {
    const endpoint = await start("shorthand");
    expect(endpoint.requests).toBe(0);
    expect(await call(es)).toBe("m2morg_abc123");
    expect(endpoint.requests).toBe(1);
  });

  it("shares one in-flight fetch among 50 concurrent first calls", async () => {
    const endpoint = await start();
    endpoint.hold();
    const calls = Array.from({ length: 50 }, () => call(es));
    await endpoint.arrived(1);
    await new Promise((r) => setTimeout(r, 150)); // let the other 49 calls reach the interceptor
    expect(endpoint.requests).toBe(1);
    endpoint.release();
    expect(await Promise.all(calls)).toEqual(Array(50).fill("m2morg_abc123"));
    expect(endpoint.requests).toBe(1);
  });

  it("serves the cached set for cacheMaxAge (default 10 min), then refetches", async () => {
    const endpoint = await start();
    await call(es);
    clock.advance(599_000);
    await call(es);
    expect(endpoint.requests).toBe(1);
    clock.advance(1_000);
    await call(es);
    expect(endpoint.requests).toBe(2);
  });

  it("picks up a key rotated in at the issuer through one unknown-kid refetch; old tokens keep working", async () => {
    const endpoint = await start();
    const old = await tokenOf(es);
    await org.getOrganizationClient({}, bearer(old));
    clock.advance(30_000);
    endpoint.body = jwksOf(es2, es);
    expect(await call(es2)).toBe("m2morg_abc123");
    expect(endpoint.requests).toBe(2);
    expect(await call(es)).toBe("m2morg_abc123");
    expect((await org.getOrganizationClient({}, bearer(old))).client?.clientId).toBe("m2morg_abc123");
    expect(endpoint.requests).toBe(2);
  });

  it("refuses an unknown kid within the cooldown without fetching, and refetches after it", async () => {
    const endpoint = await start({ cooldown: 10_000 });
    await call(es);
    endpoint.body = jwksOf(es, es2); // published, but not looked for yet
    clock.advance(9_999);
    await refused(es2, Code.Unauthenticated, "unknown key id");
    expect(endpoint.requests).toBe(1);
    clock.advance(1);
    expect(await call(es2)).toBe("m2morg_abc123");
    expect(endpoint.requests).toBe(2);
  });

  it("keeps admitting tokens of cached keys while the endpoint answers 500; an unknown kid fails closed", async () => {
    const endpoint = await start();
    await call(es);
    endpoint.status = 500;
    clock.advance(600_000);
    expect(await call(es)).toBe("m2morg_abc123"); // stale-if-error
    expect(endpoint.requests).toBe(2);
    await refused(es2, Code.Unauthenticated, "unknown key id");
    expect(endpoint.requests).toBe(2); // within the cooldown of the failed refetch
    clock.advance(30_000);
    await refused(es2, Code.Unauthenticated, "unknown key id");
    expect(endpoint.requests).toBe(3);
    expect(await call(es)).toBe("m2morg_abc123");
    endpoint.status = 200;
    endpoint.body = jwksOf(es, es2);
    clock.advance(30_000);
    expect(await call(es2)).toBe("m2morg_abc123");
  });

  it("keeps admitting tokens of cached keys when the endpoint is gone; an unknown kid fails closed", async () => {
    const endpoint = await start();
    await call(es);
    await endpoint.close();
    clock.advance(600_000);
    expect(await call(es)).toBe("m2morg_abc123");
    clock.advance(30_000);
    await refused(es2, Code.Unauthenticated, "unknown key id");
    clock.advance(600_000);
    expect(await call(es)).toBe("m2morg_abc123");
  });

  it("admits tokens of cached keys for maxStale while the endpoint is down, then fails with Unavailable until it is back", async () => {
    const endpoint = await start({ cacheMaxAge: 60_000, maxStale: 3_600_000 });
    expect(await call(es)).toBe("m2morg_abc123");
    endpoint.status = 500;
    clock.advance(60_000 + 3_600_000); // the last moment the stale set may be used
    expect(await call(es)).toBe("m2morg_abc123");
    expect(endpoint.requests).toBe(2);
    clock.advance(1);
    const err = await failure(call(es));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).not.toContain(endpoint.url);
    await refused(es, Code.Unavailable); // each call tries again; no stale fallback
    expect(endpoint.requests).toBe(4);
    clock.advance(24 * 3_600_000); // a long outage changes nothing
    await refused(es, Code.Unavailable);
    endpoint.status = 200; // back: the next call fetches, and tokens are admitted again
    expect(await call(es)).toBe("m2morg_abc123");
    expect(await call(es)).toBe("m2morg_abc123");
    expect(endpoint.requests).toBe(6);
  });

  it("fails with Unavailable while no key set was ever fetched, and recovers on the next call", async () => {
    const endpoint = await start();
    endpoint.status = 500;
    const err = await failure(call(es));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).not.toContain(endpoint.url);
    expect(endpoint.requests).toBe(1);
    endpoint.status = 200;
    expect(await call(es)).toBe("m2morg_abc123");
    expect(endpoint.requests).toBe(2);
  });
});
