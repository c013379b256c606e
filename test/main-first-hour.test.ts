import { spawn, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "./support/redis-process.js";
import { killAll, spawnService } from "./support/service-process.js";
import { testRedisUrl, uniquePrefix } from "./support/redis.js";

// The first hour, as a new user meets it: a start that cannot serve says why in one line and
// leaves nothing behind.

const root = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];
const servers: net.Server[] = [];

afterEach(() => {
  killAll(children);
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const server of servers.splice(0)) server.close();
});

/** run starts src/main.ts with `env` and resolves when it exits, with its exit code and output. */
function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", M2M_DRAIN_SECONDS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

async function busyPort(): Promise<number> {
  const server = net.createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(testRedisUrl());
  try {
    return await redis.keys(`${prefix}*`);
  } finally {
    redis.disconnect();
  }
}

// Each spawns tsx processes, seconds each on a busy two-core machine.
describe("a start that cannot serve", { timeout: 60_000 }, () => {
  it("says which Redis it cannot reach and why, password hidden, exit code 1", async () => {
    const redisPort = await freePort();
    const result = await run({ PORT: String(await freePort()), REDIS_URL: `redis://:hunter2hunter2@127.0.0.1:${redisPort}`, M2M_WORKERS: "1" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`m2m-auth: cannot reach Redis at redis://:***@127.0.0.1:${redisPort}: ECONNREFUSED`);
    expect(result.stderr + result.stdout).not.toContain("hunter2");
    expect(result.stderr + result.stdout).not.toContain("max retries");
  });

  it("says so for a Cluster's seeds and for Sentinels", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const cluster = await run({ PORT: "0", REDIS_CLUSTER_NODES: `127.0.0.1:${a},127.0.0.1:${b}`, M2M_WORKERS: "1" });
    expect(cluster.code).toBe(1);
    expect(cluster.stderr).toContain(`cannot reach the Redis Cluster at 127.0.0.1:${a}, 127.0.0.1:${b}: ECONNREFUSED`);
    const sentinel = await run({ PORT: "0", REDIS_SENTINELS: `127.0.0.1:${a}`, REDIS_SENTINEL_NAME: "primary1", M2M_WORKERS: "1" });
    expect(sentinel.code).toBe(1);
    expect(sentinel.stderr).toContain(`cannot reach Redis primary "primary1" through the Sentinels at 127.0.0.1:${a}: ECONNREFUSED`);
  });

  for (const workers of ["1", "2"]) {
    it(`on a busy port fails with its number, prints no credentials and creates no admin (M2M_WORKERS=${workers})`, async () => {
      const port = await busyPort();
      const prefix = uniquePrefix();
      const result = await run({ PORT: String(port), REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: prefix, M2M_WORKERS: workers });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`m2m-auth: port ${port} is in use`);
      expect(result.stderr).not.toContain("client_secret");
      expect(await keysUnder(prefix)).toEqual([]);
    });
  }
});

describe("a start with a misspelt variable", { timeout: 60_000 }, () => {
  it("warns once (by the primary, not each worker) naming the nearest known variable, levels by name", async () => {
    const service = spawnService(
      {
        REDIS_URL: testRedisUrl(),
        M2M_KEY_PREFIX: uniquePrefix(),
        M2M_WORKERS: "2",
        M2M_SIGNIN_ALG: "ES256",
        M2M_ADMIN_CLIENT_ID: "admin",
        M2M_ADMIN_CLIENT_SECRET: "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU",
      },
      await freePort(),
      children,
    );
    await service.waitFor("two workers listening", () => service.lines().filter((l) => l.msg === "listening").length === 2, 50_000);
    const warnings = service.lines().filter((l) => l.msg.includes("M2M_SIGNIN_ALG"));
    expect(warnings).toMatchObject([{ level: "warn", msg: "M2M_SIGNIN_ALG is not a known variable; did you mean M2M_SIGNING_ALG?" }]);
  });
});
