import { afterEach, describe, expect, it } from "vitest";
import { runStoreInit } from "../../src/ops/store-init-command.js";
import type { Store } from "../../src/store/client-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { captureLog } from "../support/log-capture.js";
import { waitUntil } from "../support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { adminTestSecret, startTestServer, type TestServer } from "../support/server.js";

// The stored bootstrap admin: disabled for good once M2M_ADMIN_CLIENT_ID/_SECRET are used, never
// revived by removing them, made anew only by `store:init --reset-admin`.

const reloadMs = 100;
const servers: TestServer[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const store of stores.splice(0)) await store.close();
});

function storeOn(keyPrefix: string): Store {
  const store = createRedisStore({ url: testRedisUrl(), keyPrefix });
  stores.push(store);
  return store;
}

async function instance(keyPrefix: string, configured: boolean, log = captureLog()) {
  const server = await startTestServer({ store: storeOn(keyPrefix), admin: configured, keys: { keyReloadIntervalMs: reloadMs }, logger: log.logger });
  servers.push(server);
  return { server, log };
}

async function stop(server: TestServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

async function tokenStatus(url: string, credentials: { clientId: string; clientSecret: string }): Promise<number> {
  const res = await fetch(`${url}/oauth/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: credentials.clientId, client_secret: credentials.clientSecret }),
  });
  await res.body?.cancel();
  return res.status;
}

function resetAdmin(store: Store, configured = false) {
  const out: string[] = [];
  const admin = configured ? { clientId: "test-admin", clientSecret: adminTestSecret } : undefined;
  return runStoreInit(["--reset-admin"], {
    store,
    signingAlg: "RS256",
    keyEncryptionKey: undefined,
    secretHashKey: undefined,
    admin,
    now: Date.now,
    out: (line) => out.push(line),
  }).then((result) => ({ ...result, out: out.join("\n") }));
}

const configuredAdmin = { clientId: "test-admin", clientSecret: adminTestSecret };

describe("the bootstrap admin", () => {
  it("is disabled once configured credentials are used, stays disabled without them, and --reset-admin makes a new one", async () => {
    const keyPrefix = uniquePrefix();
    const first = await instance(keyPrefix, false);
    const bootstrap = first.server.server.adminCredentials!;
    expect(bootstrap.clientId).toMatch(/^m2madmin_/);
    expect(await tokenStatus(first.server.url, bootstrap)).toBe(200);
    await stop(first.server);

    const configured = await instance(keyPrefix, true);
    // Said as a warning, naming the admin whose credentials stopped working.
    expect(configured.log.count("warn", new RegExp(`disabled the stored bootstrap admin ${bootstrap.clientId}:`))).toBe(1);
    expect(await tokenStatus(configured.server.url, configuredAdmin)).toBe(200);
    expect(await tokenStatus(configured.server.url, bootstrap)).toBe(401);
    await stop(configured.server);
    // Disabled once: a later start with the variables has nothing left to disable.
    const again = await instance(keyPrefix, true);
    expect(again.log.count("warn", /disabled the stored bootstrap admin/)).toBe(0);
    await stop(again.server);

    // The variables removed: no admin at all, rather than the old printed credentials.
    const bare = await instance(keyPrefix, false);
    expect(bare.server.server.adminCredentials).toBeUndefined();
    expect(bare.log.count("warn", /no admin client: the stored bootstrap admin was disabled/)).toBe(1);
    expect(await tokenStatus(bare.server.url, bootstrap)).toBe(401);
    expect(await tokenStatus(bare.server.url, configuredAdmin)).toBe(401);

    expect(await resetAdmin(storeOn(keyPrefix), true)).toMatchObject({
      code: 2,
      error: expect.stringMatching(/M2M_ADMIN_CLIENT_ID\/_SECRET are set/) as unknown,
    });
    const reset = await resetAdmin(storeOn(keyPrefix));
    expect(reset.code).toBe(0);
    const printed = /client_id:\s+(\S+)\n\s+client_secret:\s+(\S+)/.exec(reset.out);
    const fresh = { clientId: printed![1]!, clientSecret: printed![2]! };
    // The running instance picks the new admin up with its state check; the old one stays refused.
    await waitUntil(async () => (await tokenStatus(bare.server.url, fresh)) === 200, 5_000, "the reset admin works");
    expect(await tokenStatus(bare.server.url, bootstrap)).toBe(401);
    expect(bare.log.count("info", /the bootstrap admin changed in the store/)).toBe(1);
  }, 20_000);

  it("is dropped by every running instance as soon as one starts with configured credentials", async () => {
    const keyPrefix = uniquePrefix();
    const a = await instance(keyPrefix, false);
    const b = await instance(keyPrefix, false);
    const bootstrap = a.server.server.adminCredentials!;
    expect(await tokenStatus(b.server.url, bootstrap)).toBe(200);
    await instance(keyPrefix, true);
    for (const { server } of [a, b]) {
      await waitUntil(async () => (await tokenStatus(server.url, bootstrap)) === 401, 5_000, `${server.url} refuses the disabled admin`);
    }
    // Neither instance treats the change as a loss of state: both stay ready.
    for (const { server } of [a, b]) expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  }, 20_000);
});
