import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { runStoreInit } from "../../src/ops/store-init-command.js";
import { newInitialState } from "../../src/state/initial-state.js";
import { encodeCandidate, restoreCandidatesStateName } from "../../src/state/restore-candidate.js";
import { readStateParts, setParts, type StateParts } from "../../src/state/state-values.js";
import type { Store } from "../../src/store/client-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";

// `npm run store:init`: what it refuses, and what it writes, atomically or not at all.

const root = fileURLToPath(new URL("../..", import.meta.url));
const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function freshStore(): Store {
  const store = createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() });
  stores.push(store);
  return store;
}

async function run(store: Store, args: string[], keyEncryptionKey?: Uint8Array) {
  const out: string[] = [];
  const result = await runStoreInit(args, {
    store,
    signingAlg: "ES256",
    keyEncryptionKey,
    secretHashKey: undefined,
    admin: undefined,
    now: Date.now,
    out: (line) => out.push(line),
  });
  return { ...result, out: out.join("\n") };
}

const newParts = async (): Promise<StateParts> =>
  (
    await newInitialState({
      configuredHashKey: undefined,
      alg: "ES256",
      encryptionKey: undefined,
      adminConfigured: false,
      origin: "initialized",
      now: Date.now(),
    })
  ).parts;

async function offer(store: Store, instance: string, parts: StateParts, key?: Uint8Array): Promise<void> {
  await store.state.putField(restoreCandidatesStateName, instance, encodeCandidate({ instance, offerTime: new Date().toISOString(), parts }, key));
}

describe("store:init", () => {
  it("refuses bad usage with exit code 2, writing nothing", async () => {
    const store = freshStore();
    expect((await run(store, ["--bogus"])).code).toBe(2);
    expect(await run(store, ["--restore", "--reinit"])).toMatchObject({ code: 2, error: expect.stringMatching(/one mode/) as unknown });
    expect(await run(store, ["--status", "--yes"])).toMatchObject({ code: 2, error: "--yes goes with --reinit" });
    expect(await run(store, ["--reinit"])).toMatchObject({ code: 2, error: expect.stringMatching(/add --yes to confirm/) as unknown });
    expect(await run(store, ["--from", "x"])).toMatchObject({ code: 2, error: "--from goes with --restore" });
    expect(await store.empty()).toBe(true);
    const help = await run(store, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("--restore");
  });

  it("reports the state: exit 1 while incomplete, 0 once whole", async () => {
    const store = freshStore();
    expect(await run(store, [])).toMatchObject({ code: 1, out: expect.stringContaining("store marker: MISSING") as unknown });
    const parts = await newParts();
    await store.state.commit({ expect: new Map(), set: setParts(parts) });
    const status = await run(store, ["--status"]);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/store marker: generation [0-9a-f-]{36}, initialized .*secret-hash key stored/);
    expect(status.out).toMatch(/admin client: present \(m2madmin_\w+, enabled\)/);
  });

  it("restores nothing when the state is complete, or when no instance offered it", async () => {
    const store = freshStore();
    expect(await run(store, ["--restore"])).toMatchObject({ code: 1, error: expect.stringMatching(/no running instance has offered/) as unknown });
    await store.state.commit({ expect: new Map(), set: setParts(await newParts()) });
    expect(await run(store, ["--restore"])).toMatchObject({ code: 1, error: expect.stringMatching(/complete: there is nothing to restore/) as unknown });
  });

  it("refuses offers that disagree, unless one is chosen with --from", async () => {
    const store = freshStore();
    const [one, two] = [await newParts(), await newParts()];
    await offer(store, "instance-one", one);
    await offer(store, "instance-two", two);
    const refused = await run(store, ["--restore"]);
    expect(refused).toMatchObject({ code: 1, error: expect.stringMatching(/offers disagree \(2 different states\): choose one with --from/) as unknown });
    expect(refused.out).toMatch(/instance instance-one: offered .*ring version 1/);
    expect((await readStateParts(store.state)).marker).toBeUndefined();
    expect(await run(store, ["--restore", "--from", "instance-none"])).toMatchObject({ code: 1 });
    expect(await run(store, ["--restore", "--from", "instance-two"])).toMatchObject({ code: 0 });
    expect(await readStateParts(store.state)).toEqual(two);
    expect((await store.state.fields(restoreCandidatesStateName)).size).toBe(0);
  });

  it("opens offers sealed with M2M_KEY_ENCRYPTION_KEY only with that key", async () => {
    const store = freshStore();
    const key = new Uint8Array(randomBytes(32));
    const parts = await newParts();
    await offer(store, "sealed", parts, key);
    const stored = (await store.state.fields(restoreCandidatesStateName)).get("sealed")!;
    // The secret-hash key is not readable in the offer.
    expect(Buffer.from(stored).includes(Buffer.from(parts.hashKey!))).toBe(false);
    expect(Buffer.from(stored).includes(Buffer.from(Buffer.from(parts.hashKey!).toString("base64")))).toBe(false);
    const without = await run(store, ["--restore"]);
    expect(without.code).toBe(1);
    expect(without.out).toMatch(/instance sealed: the offer is encrypted: set M2M_KEY_ENCRYPTION_KEY \(unreadable\)/);
    expect((await run(store, ["--restore"], new Uint8Array(randomBytes(32)))).code).toBe(1);
    expect((await run(store, ["--restore"], key)).code).toBe(0);
    expect(await readStateParts(store.state)).toEqual(parts);
  });

  it("runs as an npm script would: help, and exit codes with the reason on stderr", async () => {
    const command = (args: string[], env: Record<string, string>) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "src/ops/store-init.ts", ...args], {
        cwd: root,
        env: { PATH: process.env["PATH"] ?? "", ...env },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );
    expect(await command(["--help"], {})).toMatchObject({ code: 0, stdout: expect.stringContaining("Usage: npm run store:init") as unknown });
    expect(await command(["--status"], {})).toMatchObject({ code: 2, stderr: expect.stringMatching(/set REDIS_URL/) as unknown });
    const env = { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix() };
    expect(await command(["--status"], env)).toMatchObject({
      code: 1,
      stdout: expect.stringContaining("store marker: MISSING") as unknown,
      stderr: expect.stringMatching(/incomplete/) as unknown,
    });
    expect(await command(["--reinit", "--yes"], env)).toMatchObject({ code: 0, stdout: expect.stringMatching(/client_secret:\s+m2msk_/) as unknown });
    expect(await command([], env)).toMatchObject({ code: 0, stdout: expect.stringMatching(/store marker: generation .*, reinitialized /) as unknown });
  }, 30_000);
});
