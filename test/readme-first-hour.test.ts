import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "./support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "./support/redis.js";

// The README's first-hour snippets, tried as a new user would: the pretty log, recovering lost
// admin credentials, building the interceptor package. `npm start` is run as what it starts
// (src/main.ts), without the build.

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

async function section(name: string): Promise<string> {
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const text = new RegExp(`<!-- ${name}:start -->([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme)?.[1] ?? "";
  return [...text.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string).join("\n");
}

interface Started {
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/** start runs src/main.ts with `env` until its stdout matches `ready`. */
function start(env: Record<string, string>, ready: RegExp): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", M2M_DRAIN_SECONDS: "0", M2M_WORKERS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (ready.test(stdout))
        resolve({
          stdout: () => stdout,
          stderr: () => stderr,
          stop: () => (child.kill("SIGTERM"), closed),
        });
    });
    void closed.then((code) => reject(new Error(`exited ${code}: ${stderr}${stdout}`)));
  });
}

async function tokenStatus(port: number, clientId: string, clientSecret: string): Promise<number> {
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret });
  return (await fetch(`http://127.0.0.1:${port}/oauth/token`, { method: "POST", body })).status;
}

describe("README: the first hour", { timeout: 90_000 }, () => {
  it("LOG_FORMAT=pretty writes lines for people", async () => {
    const snippet = await section("logs");
    expect(snippet).toBe("LOG_FORMAT=pretty npm start\n");
    const service = await start({ LOG_FORMAT: "pretty", PORT: String(await freePort()) }, /INFO \(\d+\): listening/);
    expect(service.stdout()).toMatch(/WARN \(\d+\): REDIS_URL is not set/);
    expect(await service.stop()).toBe(0);
  });

  it("recovers lost admin credentials with the variables: the bootstrap admin is disabled, said once", async () => {
    const env = { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix(), PORT: String(await freePort()) };
    const first = await start(env, /"msg":"listening"/);
    const [, bootstrapId, bootstrapSecret] = /client_id:\s+(\S+)\n\s+client_secret:\s+(\S+)/.exec(first.stderr()) ?? [];
    expect(await first.stop()).toBe(0);

    const snippet = await section("admin-recovery");
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", `${snippet}\nprintf '%s\\n%s\\n' "$M2M_ADMIN_CLIENT_ID" "$M2M_ADMIN_CLIENT_SECRET"`]);
    const [id, secret] = stdout.trim().split("\n") as [string, string];
    const second = await start({ ...env, M2M_ADMIN_CLIENT_ID: id, M2M_ADMIN_CLIENT_SECRET: secret }, /"msg":"listening"/);
    const warned = second
      .stdout()
      .split("\n")
      .filter((line) => line.includes("disabled the stored bootstrap admin"));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0]!)).toMatchObject({ level: "warn", clientId: bootstrapId });
    expect(await tokenStatus(Number(env.PORT), id, secret)).toBe(200);
    expect(await tokenStatus(Number(env.PORT), bootstrapId!, bootstrapSecret!)).toBe(401);
    expect(second.stdout()).not.toContain(secret);
    expect(await second.stop()).toBe(0);
  });

  it("names the interceptor package's scripts as package.json has them", async () => {
    const snippet = await section("interceptor-install");
    const manifest = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as { scripts: Record<string, string> };
    const scripts = [...snippet.matchAll(/^npm run ([\w:-]+)/gm)].map((m) => m[1]!);
    expect(scripts).toEqual(["build:interceptor", "pack:interceptor"]);
    for (const script of scripts) expect(manifest.scripts[script]).toBeDefined();
  });

  it("tells a new user what the walk-through needs", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const intro = /## Walk-through([\s\S]*?)<!-- walkthrough:start -->/.exec(readme)?.[1] ?? "";
    for (const needed of ["second terminal", "apt-get install -y curl jq", "brew install jq", "forgets everything"]) expect(intro).toContain(needed);
  });
});
