import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runStoreInit } from "../../src/ops/store-init-command.js";
import { createM2MServer } from "../../src/server.js";
import { restoreCandidatesStateName } from "../../src/state/restore-candidate.js";
import { StoreStateError } from "../../src/state/store-state-error.js";
import { readStateParts, statePartNames } from "../../src/state/state-values.js";
import type { Store } from "../../src/store/client-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { captureLog, type CapturedLog } from "../support/log-capture.js";
import { managementApi } from "../support/management-api.js";
import { waitUntil } from "../support/redis-process.js";
import { testRedisUrl, uniquePrefix, wipePrefix } from "../support/redis.js";
import { startTestServer, type TestServer } from "../support/server.js";

// The store loses the issuer's state under running instances (Redis flushed, restarted without
// persistence, keys evicted). No instance may then accept a credential another refuses: all stop
// serving (503) instead of carrying on with their own copies, a new instance refuses to start
// instead of inventing new state, and `store:init --restore` brings back the state they held.

const reloadMs = 100;
const servers: TestServer[] = [];
const stores: Store[] = [];
let raw: Redis;
beforeAll(() => {
  raw = new Redis(testRedisUrl());
});
afterAll(async () => {
  await raw.quit();
});
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const store of stores.splice(0)) await store.close();
});

function storeOn(keyPrefix: string): Store {
  const store = createRedisStore({ url: testRedisUrl(), keyPrefix });
  stores.push(store);
  return store;
}

async function instance(keyPrefix: string, log: CapturedLog = captureLog()): Promise<TestServer & { log: CapturedLog }> {
  const server = await startTestServer({ store: storeOn(keyPrefix), admin: false, keys: { keyReloadIntervalMs: reloadMs }, logger: log.logger });
  servers.push(server);
  return Object.assign(server, { log });
}

async function tokenStatus(url: string, clientId: string, clientSecret: string): Promise<{ status: number; token?: string }> {
  const res = await fetch(`${url}/oauth/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
  });
  const body = (await res.json()) as { access_token?: string };
  return body.access_token === undefined ? { status: res.status } : { status: res.status, token: body.access_token };
}

async function readyz(url: string): Promise<{ status: number; reasons: string[] }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, reasons: ((await res.json()) as { reasons?: string[] }).reasons ?? [] };
}

async function jwks(url: string): Promise<JSONWebKeySet> {
  return (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
}

async function verifies(url: string, token: string): Promise<boolean> {
  return jwtVerify(token, createLocalJWKSet(await jwks(url)), { issuer: "http://m2m-auth.test" }).then(
    () => true,
    () => false,
  );
}

async function rotate(url: string, adminToken: string): Promise<number> {
  const res = await fetch(`${url}/m2mauth.v1.SigningKeyService/RotateSigningKey`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: "{}",
  });
  return res.status;
}

function command(store: Store, args: string[]) {
  const out: string[] = [];
  const result = runStoreInit(args, {
    store,
    signingAlg: "RS256",
    keyEncryptionKey: undefined,
    secretHashKey: undefined,
    admin: undefined,
    now: Date.now,
    out: (line) => out.push(line),
  });
  return result.then((r) => ({ ...r, out: out.join("\n") }));
}

const notReady = (pattern: RegExp) => async (server: TestServer) =>
  waitUntil(async () => (await readyz(server.url)).reasons.some((reason) => pattern.test(reason)), 5_000, `${server.url} did not report ${pattern}`);

describe("the issuer's state lost under running instances", () => {
  it("stops every instance, keeps a new one from inventing state, and comes back whole with --restore", async () => {
    const keyPrefix = uniquePrefix();
    const a = await instance(keyPrefix);
    const b = await instance(keyPrefix);
    const admin = a.admin;
    const adminToken = (await tokenStatus(a.url, admin.clientId, admin.clientSecret)).token!;
    const client = await managementApi(a.url, adminToken).register("org_wiped");
    const before = await tokenStatus(b.url, client.id, client.secret);
    expect(before.status).toBe(200);
    const kids = (await jwks(a.url)).keys.map((key) => key.kid);

    expect(await wipePrefix(raw, keyPrefix)).toBeGreaterThan(4);
    await Promise.all([a, b].map(notReady(/^state: missing from the store: store marker, secret-hash key, signing key ring, admin client/)));

    // Every instance refuses alike: tokens (client and admin), client management, key rotation.
    for (const server of [a, b]) {
      expect((await tokenStatus(server.url, client.id, client.secret)).status).toBe(503);
      expect((await tokenStatus(server.url, admin.clientId, admin.clientSecret)).status).toBe(503);
      expect((await managementApi(server.url, adminToken).call("GET", "org_wiped/clients")).status).toBe(503);
      expect((await managementApi(server.url, adminToken).call("POST", "org_wiped/clients", { name: "x", audience: ["api"] })).status).toBe(503);
      expect(await rotate(server.url, adminToken)).toBe(503);
      // The keys they hold stay published: tokens signed before keep verifying meanwhile.
      expect(await verifies(server.url, before.token!)).toBe(true);
    }
    // Each offered its copy, and none wrote any live state.
    await waitUntil(async () => (await raw.hlen(`${keyPrefix}{state}:${restoreCandidatesStateName}`)) === 2, 5_000, "two offers");
    expect(await readStateParts(storeOn(keyPrefix).state)).toEqual({ marker: undefined, hashKey: undefined, ring: undefined, admin: undefined });

    // A third instance refuses to start rather than make new state.
    const third = await createM2MServer({
      host: "127.0.0.1",
      port: 0,
      issuer: a.issuer,
      signingAlg: "RS256",
      store: storeOn(keyPrefix),
      logger: captureLog().logger,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(third).toBeInstanceOf(StoreStateError);
    expect((third as Error).message).toContain("npm run store:init -- --restore");

    // The loss was logged once per instance, however many checks saw it.
    await new Promise((resolve) => setTimeout(resolve, reloadMs * 5));
    for (const server of [a, b]) expect(server.log.count("error", /not this process's: missing from the store/)).toBe(1);

    const restored = await command(storeOn(keyPrefix), ["--restore"]);
    expect(restored).toMatchObject({ code: 0 });
    expect(restored.out).toContain("restored the issuer's state from instance");
    await Promise.all([a, b].map((server) => waitUntil(async () => (await readyz(server.url)).status === 200, 5_000, `${server.url} ready again`)));
    expect(await raw.exists(`${keyPrefix}{state}:${restoreCandidatesStateName}`)).toBe(0);
    const c = await instance(keyPrefix);

    for (const server of [a, b, c]) {
      // The original keys: the token signed before the loss verifies, and new tokens use them.
      expect((await jwks(server.url)).keys.map((key) => key.kid)).toEqual(kids);
      expect(await verifies(server.url, before.token!)).toBe(true);
      const adminAgain = await tokenStatus(server.url, admin.clientId, admin.clientSecret);
      expect(adminAgain.status).toBe(200);
      expect(kids).toContain(decodeProtectedHeader(adminAgain.token!).kid);
      // The client's record went with the flush: refused alike everywhere.
      expect((await tokenStatus(server.url, client.id, client.secret)).status).toBe(401);
    }
    // The same secret-hash key everywhere: a client made on one instance works on every other.
    const after = await managementApi(c.url, adminToken).register("org_wiped");
    for (const server of [a, b, c]) expect((await tokenStatus(server.url, after.id, after.secret)).status).toBe(200);
    for (const server of [a, b]) expect(server.log.count("info", /matches this process again/)).toBe(1);
  }, 30_000);

  it("restores a part lost alone (the admin evicted), keeping the marker", async () => {
    const keyPrefix = uniquePrefix();
    const a = await instance(keyPrefix);
    const store = storeOn(keyPrefix);
    const marker = (await readStateParts(store.state)).marker;
    await store.state.commit({ expect: new Map(), remove: [statePartNames.admin] });
    await notReady(/^state: missing from the store: admin client;/)(a);
    expect((await tokenStatus(a.url, a.admin.clientId, a.admin.clientSecret)).status).toBe(503);
    await waitUntil(async () => (await store.state.fields(restoreCandidatesStateName)).size === 1, 5_000, "an offer");
    expect(await command(store, ["--restore"])).toMatchObject({ code: 0 });
    await waitUntil(async () => (await readyz(a.url)).status === 200, 5_000, "ready again");
    expect(Buffer.from((await readStateParts(store.state)).marker!).equals(marker!)).toBe(true);
    expect((await tokenStatus(a.url, a.admin.clientId, a.admin.clientSecret)).status).toBe(200);
  }, 20_000);

  it("after --reinit, running instances refuse until restarted, and the new state serves", async () => {
    const keyPrefix = uniquePrefix();
    const a = await instance(keyPrefix);
    const b = await instance(keyPrefix);
    const reinit = await command(storeOn(keyPrefix), ["--reinit", "--yes"]);
    expect(reinit.code).toBe(0);
    const printed = /client_id:\s+(\S+)\n\s+client_secret:\s+(\S+)/.exec(reinit.out);
    expect(printed).not.toBeNull();
    await Promise.all([a, b].map(notReady(/^state: the store was initialized again .*restart this process/)));
    // Nothing of theirs was offered: their copy is not the store's generation.
    expect((await storeOn(keyPrefix).state.fields(restoreCandidatesStateName)).size).toBe(0);
    const c = await instance(keyPrefix);
    expect((await tokenStatus(c.url, printed![1]!, printed![2]!)).status).toBe(200);
    expect((await tokenStatus(c.url, a.admin.clientId, a.admin.clientSecret)).status).toBe(401);
    for (const server of [a, b]) {
      expect((await tokenStatus(server.url, printed![1]!, printed![2]!)).status).toBe(503);
      expect((await tokenStatus(server.url, a.admin.clientId, a.admin.clientSecret)).status).toBe(503);
    }
  }, 20_000);
});
