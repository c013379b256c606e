import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken } from "../support/server.js";
import { runCli } from "./run-cli.js";

// The two commands that start the existing entry points: `serve` (src/main.ts, what npm start
// runs) and `store check` (src/ops/store-check-main.ts, what npm run store:check runs).

const root = fileURLToPath(new URL("../..", import.meta.url));
const adminSecret = "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU";

describe("m2m-auth serve", () => {
  it("runs the service as src/main.ts does, and stops on SIGTERM", async () => {
    const env = { PATH: process.env["PATH"] ?? "", PORT: "0", M2M_DRAIN_SECONDS: "0", M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: adminSecret };
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const listening = /"url":"(http:[^"]+)"[^\n]*"msg":"listening"/.exec(stdout)?.[1];
        if (listening) resolve(listening);
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${stdout}`)));
    });
    await getToken(url, "admin", adminSecret);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toContain('"msg":"stopped"');
  }, 30_000);
});

describe("m2m-auth store check", () => {
  it("reports as npm run store:check does: --json, exit 1 with findings, 2 without Redis", async () => {
    const empty = await runCli(["store", "check", "--json"], { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix() });
    expect(empty.code).toBe(1);
    const report = JSON.parse(empty.stdout) as { findings: { kind: string }[] };
    expect(report.findings.map((f) => f.kind)).toContain("state-missing");
    const none = await runCli(["store", "check"], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no Redis is configured");
  }, 30_000);
});
