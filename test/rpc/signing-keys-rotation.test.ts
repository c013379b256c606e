import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { decodeProtectedHeader } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { ListSigningKeysResponseSchema, SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";
import { createAuthInterceptor } from "../../src/interceptor/index.js";
import type { Store } from "../../src/store/client-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// Zero failed requests across signing key rotations: token requests and verifications by a
// separate service with a cached JWKS run the whole time; and several instances on one Redis.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const t = await startTestServer(options);
  cleanups.push(() => t.close());
  return t;
}

/**
 * resourceService is a service that installs the interceptor as the README says, with the
 * default unknown-kid cooldown of 30 s (a token whose key it has not fetched fails) and a JWKS
 * cache of `cacheMaxAge` ms: here much shorter than the default (10 minutes), since the servers
 * below announce a JWKS max-age of 1 s (M2M_JWKS_MAX_AGE_SECONDS) to rotate within a test.
 */
async function resourceService(t: TestServer, cacheMaxAge = 300): Promise<string> {
  const auth = createAuthInterceptor({ issuer: t.issuer, audience: t.issuer, keys: { jwksUri: `${t.url}/.well-known/jwks.json`, cacheMaxAge } });
  const handler = connectNodeAdapter({
    routes: (router) => router.service(SigningKeyService, { listSigningKeys: () => create(ListSigningKeysResponseSchema) }),
    interceptors: [auth],
  });
  const http: Server = createServer(handler);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => http.close(resolve)));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("signing key rotation", () => {
  it("fails no token request and no verification while the key rotates twice under load", async () => {
    // Rotations wait 1.2 s (max-age 1 s + reload 0.2 s) after the next key is published.
    const t = await server({ keys: { jwksMaxAgeSeconds: 1, keyReloadIntervalMs: 200 } });
    const verifier = createClient(SigningKeyService, createConnectTransport({ baseUrl: await resourceService(t), httpVersion: "1.1" }));
    const management = createClient(SigningKeyService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const failures: string[] = [];
    const verifiedKids = new Map<string, number>();
    let running = true;

    async function worker(): Promise<void> {
      while (running) {
        try {
          const token = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
          await verifier.listSigningKeys({}, { headers: { authorization: `Bearer ${token}` } });
          const kid = decodeProtectedHeader(token).kid as string;
          verifiedKids.set(kid, (verifiedKids.get(kid) ?? 0) + 1);
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }
    }

    const workers = Array.from({ length: 8 }, () => worker());
    const rotations: string[] = [t.server.keyRing.current().kid];
    const admin = { headers: { authorization: `Bearer ${await getToken(t.url, t.admin.clientId, t.admin.clientSecret)}` } };
    await sleep(1300);
    rotations.push((await management.rotateSigningKey({}, admin)).key!.kid);
    await sleep(1300);
    rotations.push((await management.rotateSigningKey({}, admin)).key!.kid);
    await sleep(600);
    running = false;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(new Set(rotations).size).toBe(3);
    // Tokens of every key that signed were verified, a good number of each.
    for (const kid of rotations) expect(verifiedKids.get(kid) ?? 0).toBeGreaterThan(5);
  });

  it("refuses a rotation right after another, so no verification fails; a forced one breaks a verifier that has not refetched, as documented", async () => {
    const t = await server({ keys: { jwksMaxAgeSeconds: 1, keyReloadIntervalMs: 200 } });
    // The interceptor's defaults: the JWKS cached 10 minutes, an unknown kid refetched at most every 30 s.
    const verifier = createClient(SigningKeyService, createConnectTransport({ baseUrl: await resourceService(t, 600_000), httpVersion: "1.1" }));
    const management = createClient(SigningKeyService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const adminToken = () => getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const verifies = async (token: string) =>
      verifier.listSigningKeys({}, { headers: { authorization: `Bearer ${token}` } }).then(
        () => true,
        () => false,
      );
    const admin = { headers: { authorization: `Bearer ${await adminToken()}` } };
    // One number: the max-age the JWKS announces is the rotation's wait.
    expect((await fetch(`${t.url}/.well-known/jwks.json`)).headers.get("cache-control")).toBe("public, max-age=1");
    expect(await verifies(await adminToken())).toBe(true); // the verifier fetched current + next
    await sleep(1300);
    await management.rotateSigningKey({}, admin);
    expect(await verifies(await adminToken())).toBe(true); // signed by the old next key: known

    // A second rotation a moment later would make a key sign that the verifier has never seen.
    const refused = ConnectError.from(await management.rotateSigningKey({}, admin).catch((e: unknown) => e));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/rotate again in [12] s/);
    expect(await verifies(await adminToken())).toBe(true);

    // Forced, it does: the verifier may not refetch for 30 s and rejects the new tokens meanwhile.
    const forced = await management.rotateSigningKey({ force: true }, admin);
    const token = await adminToken();
    expect(decodeProtectedHeader(token).kid).toBe(forced.key!.kid);
    expect(await verifies(token)).toBe(false);
  });

  it("lets two instances on one Redis agree on the keys and sign with a rotated key within seconds", async () => {
    const keyPrefix = uniquePrefix();
    const stores: Store[] = [createRedisStore({ url: testRedisUrl(), keyPrefix }), createRedisStore({ url: testRedisUrl(), keyPrefix })];
    cleanups.push(() => Promise.all(stores.map((s) => s.close())));
    const [a, b] = await Promise.all(stores.map((store) => server({ store, keys: { keyReloadIntervalMs: 200, jwksMaxAgeSeconds: 1 } })));
    const jwks = async (s: TestServer) => (await (await fetch(`${s.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(await jwks(b!)).toEqual(await jwks(a!));
    const kidFrom = async (s: TestServer) => decodeProtectedHeader(await getToken(s.url, s.admin.clientId, s.admin.clientSecret)).kid;
    expect(await kidFrom(b!)).toBe(await kidFrom(a!));

    const admin = { headers: { authorization: `Bearer ${await getToken(a!.url, a!.admin.clientId, a!.admin.clientSecret)}` } };
    await sleep(1300); // the next key has been published for the JWKS max-age (1 s) plus the reload
    const rotated = await createClient(SigningKeyService, createConnectTransport({ baseUrl: a!.url, httpVersion: "1.1" })).rotateSigningKey({}, admin);
    const newKid = rotated.key!.kid;
    expect(await kidFrom(a!)).toBe(newKid);
    // B signs with the old key until it re-reads the ring, and tokens of either verify at either.
    const started = Date.now();
    while ((await kidFrom(b!)) !== newKid) {
      expect(Date.now() - started).toBeLessThan(3000);
      await sleep(25);
    }
    expect(await jwks(b!)).toEqual(await jwks(a!));
    // A token B signs now is accepted by A's management API, and the reverse.
    const fromB = await getToken(b!.url, b!.admin.clientId, b!.admin.clientSecret);
    const listed = await createClient(SigningKeyService, createConnectTransport({ baseUrl: a!.url, httpVersion: "1.1" })).listSigningKeys(
      {},
      { headers: { authorization: `Bearer ${fromB}` } },
    );
    expect(listed.keys[0]!.kid).toBe(newKid);
  });
});
