import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import type { JSONWebKeySet } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { testRedisUrl, uniquePrefix } from "./support/redis.js";
import { getToken } from "./support/server.js";

// The process as an operator runs it: configuration, first-start credentials, restart, signals.

const ADMIN_SECRET = "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU";
const root = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];

interface Running {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    // No drain: these tests stop the process with nothing in flight (main-drain.test.ts drains).
    env: { PATH: process.env["PATH"] ?? "", PORT: "0", M2M_DRAIN_SECONDS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  // "close", not "exit": it comes once stdout and stderr are read to the end, so a message is whole.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const url = /"url":"(http:[^"]+)"/.exec(stdout)?.[1];
      if (url) resolve({ child, url, stdout: () => stdout, stderr: () => stderr, exited });
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}${stdout}`)));
  });
}

/** firstKid returns the kid of the first key the service at `url` publishes (the current one). */
async function firstKid(url: string): Promise<string | undefined> {
  const jwks = (await (await fetch(`${url}/keys`)).json()) as JSONWebKeySet;
  return jwks.keys[0]!.kid;
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

// Each test starts the service as a child process, some twice: 8–14 s on a loaded 2-core CI run,
// too near the 20 s default.
describe("main", { timeout: 60_000 }, () => {
  it("bootstraps admin credentials once, keeps them and the keys across a restart, and stops on SIGTERM", async () => {
    const env = { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix(), LOG_LEVEL: "info" };
    const first = await start(env);
    const printed = /client_id:\s+(\S+)\n\s+client_secret:\s+(\S+)/.exec(first.stderr());
    expect(printed).not.toBeNull();
    const [, id, secret] = printed as RegExpExecArray;
    expect(first.stdout()).not.toContain(secret!);
    const admin = await getToken(first.url, id!, secret!);
    const registered = (await (
      await fetch(`${first.url}/api/v1/organizations/org_restart/clients`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "survives restarts", audience: ["api"] }),
      })
    ).json()) as { client: { client_id: string }; plain_secret: string };
    const kid = await firstKid(first.url);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toContain('"msg":"stopped"');

    const second = await start(env);
    expect(second.stderr()).not.toContain("client_secret");
    const token = await getToken(second.url, id!, secret!);
    // Clients registered before the restart still authenticate.
    await getToken(second.url, registered.client.client_id, registered.plain_secret);
    expect(token).not.toContain(secret!);
    expect(await firstKid(second.url)).toBe(kid);
    // No secret or token ever reaches the log.
    expect(second.stdout()).not.toContain(secret!);
    expect(second.stdout()).not.toContain(token);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  });

  it("warns that nothing persists without REDIS_URL", async () => {
    const running = await start({ M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET });
    expect(running.stdout()).toContain("in-memory store");
    expect(running.stderr()).not.toContain("client_secret");
    await getToken(running.url, "admin", ADMIN_SECRET);
    running.child.kill("SIGTERM");
    expect(await running.exited).toBe(0);
  });

  it("refuses a bad configuration naming the variable", async () => {
    await expect(start({ M2M_SIGNING_ALG: "HS256" })).rejects.toThrow(/exited 2: .*M2M_SIGNING_ALG/);
  });

  it("keeps encrypted signing keys across a restart with the key, and refuses to start without it", async () => {
    const key = "42".repeat(32);
    const env = { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix(), M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET };
    const first = await start({ ...env, M2M_KEY_ENCRYPTION_KEY: key });
    expect(first.stdout()).not.toContain("unencrypted");
    const kid = await firstKid(first.url);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    const second = await start({ ...env, M2M_KEY_ENCRYPTION_KEY: key });
    expect(await firstKid(second.url)).toBe(kid);
    await getToken(second.url, "admin", ADMIN_SECRET);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);

    await expect(start(env)).rejects.toThrow(/exited 2: .*signing keys are encrypted: set M2M_KEY_ENCRYPTION_KEY/);
    await expect(start({ ...env, M2M_KEY_ENCRYPTION_KEY: "17".repeat(32) })).rejects.toThrow(
      /exited 2: .*M2M_KEY_ENCRYPTION_KEY cannot decrypt the stored signing keys/,
    );
    await expect(start({ ...env, M2M_KEY_ENCRYPTION_KEY: "short" })).rejects.toThrow(/exited 2: .*M2M_KEY_ENCRYPTION_KEY/);
  }, 60_000);

  it("refuses to start, exit code 1, on a store that lost part of its state, naming the command that restores it", async () => {
    const keyPrefix = uniquePrefix();
    const env = { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: keyPrefix, M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET };
    const first = await start(env);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    const redis = new Redis(testRedisUrl());
    try {
      expect(await redis.del(`${keyPrefix}{state}:signing-keys`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    await expect(start(env)).rejects.toThrow(/exited 1: m2m-auth: refusing to start: .*signing key ring missing.*npm run store:init -- --restore/);
  });

  it("fails to start, closed, when Redis is unreachable", async () => {
    await expect(start({ REDIS_URL: "redis://127.0.0.1:1" })).rejects.toThrow(/exited 1/);
  });
});
