import { Code } from "@connectrpc/connect";
import { base64url, type JSONWebKeySet } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AuthInterceptorOptions } from "../../src/interceptor/index.js";
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

// The verified-token cache, seen through the interceptor over real transports. Key reads are
// counted with a provider function: one read per full verification, none on a cache hit.

let es: TestKey;
let rs: TestKey;
let foreign: TestKey;

beforeAll(async () => {
  [es, rs, foreign] = await Promise.all([makeKey("ES256", "es-1"), makeKey("RS256", "rs-1"), makeKey("ES256", "foreign-1")]);
});

/** resign replaces the signature of `token` by one that `key` makes over the same header and payload. */
async function resign(token: string, key: TestKey): Promise<string> {
  const input = token.slice(0, token.lastIndexOf("."));
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, new TextEncoder().encode(input));
  return `${input}.${base64url.encode(new Uint8Array(sig))}`;
}

describe.each(transports)("verified-token cache over %s", (_name, makeTransport) => {
  let server: TestServer | undefined;
  let org: OrgClient;
  let clock: FakeClock;
  let ring: JSONWebKeySet;
  let reads: number;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(extra: Partial<AuthInterceptorOptions> = {}): Promise<void> {
    clock = fakeClock();
    ring = jwksOf(es, rs);
    reads = 0;
    const keys = () => {
      reads++;
      return ring;
    };
    server = await startServer({ issuer: ISSUER, audience: AUDIENCE, keys, clock: clock.now, ...extra });
    ({ org } = clients(makeTransport(server.baseUrl)));
  }

  const tokenOf = (key: TestKey, lifetime = 300, extra = {}) =>
    sign(key, claims({ iat: clock.seconds(), nbf: clock.seconds(), exp: clock.seconds() + lifetime, ...extra }));
  const call = async (token: string) => (await org.getOrganizationClient({}, bearer(token))).client?.clientId;
  async function refused(token: string, message: string): Promise<void> {
    const err = await failure(call(token));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(message);
  }

  it("verifies a token once, however often it comes, and concurrent first calls share that one check", async () => {
    await start();
    const token = await tokenOf(es);
    for (let i = 0; i < 20; i++) expect(await call(token)).toBe("m2morg_abc123");
    expect(reads).toBe(1);
    const next = await tokenOf(es);
    const results = await Promise.all(Array.from({ length: 50 }, () => call(next)));
    expect(results).toEqual(Array(50).fill("m2morg_abc123"));
    expect(reads).toBe(2);
  });

  it("refuses a cached token once the clock passes its exp plus the clock skew", async () => {
    await start();
    const token = await tokenOf(es, 60);
    await call(token);
    clock.advance(60_000 + 29_000);
    expect(await call(token)).toBe("m2morg_abc123");
    expect(reads).toBe(1);
    clock.advance(2_000);
    await refused(token, "token expired");
  });

  it("keeps at most maxEntries tokens: a third evicts the least recently used", async () => {
    await start({ tokenCache: { maxEntries: 2 } });
    const [a, b, c] = await Promise.all([tokenOf(es), tokenOf(es), tokenOf(rs)]);
    for (const t of [a, b, c] as string[]) await call(t);
    expect(reads).toBe(3);
    await call(c);
    await call(b);
    expect(reads).toBe(3);
    await call(a);
    expect(reads).toBe(4);
  });

  it("verifies every call with tokenCache: false", async () => {
    await start({ tokenCache: false });
    const token = await tokenOf(es);
    for (let i = 0; i < 3; i++) await call(token);
    expect(reads).toBe(3);
  });

  it("refuses a token that differs from a cached one only in its signature", async () => {
    await start();
    const token = await tokenOf(es);
    await call(token);
    const forged = await resign(token, { ...foreign, kid: es.kid });
    expect(forged.slice(0, forged.lastIndexOf("."))).toBe(token.slice(0, token.lastIndexOf(".")));
    await refused(forged, "signature invalid");
    const at = token.lastIndexOf(".") + 20;
    const tampered = token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1);
    await refused(tampered, "signature invalid");
    await refused(forged, "signature invalid"); // a failure is never cached, nor does it displace the real entry
    expect(await call(token)).toBe("m2morg_abc123");
    expect(reads).toBe(4);
  });

  it("never caches a failure: a token for another audience is checked in full every time", async () => {
    await start();
    const token = await tokenOf(es, 300, { aud: ["https://other.test"] });
    for (let i = 0; i < 3; i++) await refused(token, "audience mismatch");
    expect(reads).toBe(3);
  });

  it("stops admitting cached tokens of a key that left the key set", async () => {
    await start();
    const old = await tokenOf(rs);
    await call(old);
    ring = jwksOf(es);
    expect(await call(old)).toBe("m2morg_abc123"); // a hit: the new set has not been read yet
    expect(await call(await tokenOf(es))).toBe("m2morg_abc123"); // a miss reads the set, sees rs-1 gone
    await refused(old, "unknown key id");
  });
});
