import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { freePort } from "./redis-process.js";

// Tests talk to a real Redis: REDIS_URL when it is set, else a private redis-server started
// here on a free loopback port and stopped afterwards. Every run gets its own key prefix.

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    runPrefix: string;
  }
}

async function waitForRedis(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ping = spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" });
    if (ping.stdout?.trim() === "PONG") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runPrefix = `m2mtest:${randomBytes(4).toString("hex")}:`;
  project.provide("runPrefix", runPrefix);
  const external = process.env["REDIS_URL"];
  if (external) {
    project.provide("redisUrl", external);
    return async () => {
      const { Redis } = await import("ioredis");
      const redis = new Redis(external, { lazyConnect: true });
      await redis.connect();
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${runPrefix}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== "0");
      redis.disconnect();
    };
  }
  const which = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (which.error) {
    throw new Error(
      "npm test needs a Redis: set REDIS_URL, or install redis-server " + "(Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)",
    );
  }
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  await waitForRedis(port);
  project.provide("redisUrl", `redis://127.0.0.1:${port}`);
  return async () => {
    spawnSync("redis-cli", ["-p", String(port), "shutdown", "nosave"]);
    child.kill();
  };
}
