import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";

// The README's walk-through runs as written, with curl and jq, against a real server.

const run = promisify(execFile);
let t: TestServer;
let readme: string;

beforeAll(async () => {
  t = await startTestServer();
  readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
});
afterAll(() => t.close());

function bashBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

describe("README", () => {
  it("states the two commands", () => {
    expect(bashBlocks(readme)[0]).toBe("npm ci && npm start\nnpm test\n");
  });

  it("walks the seed flow as written", async () => {
    const section = /<!-- walkthrough:start -->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme)?.[1] ?? "";
    const script = bashBlocks(section).join("\n");
    expect(script).toContain("/oauth/token");
    const dir = await mkdtemp(join(tmpdir(), "m2m-readme-"));
    try {
      // Step 0 moves to a fresh folder of mktemp's (under TMPDIR): the files are found there, and
      // nothing is written where the reader stood.
      const cwd = join(dir, "cwd");
      await mkdir(cwd);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
        cwd,
        env: { ...process.env, TMPDIR: dir, M2M_URL: t.url, ADMIN_ID: t.admin.clientId, ADMIN_SECRET: t.admin.clientSecret },
      });
      expect(await readdir(cwd)).toEqual([]);
      const made = (await readdir(dir)).filter((name) => name !== "cwd");
      expect(made).toHaveLength(1);
      const work = join(dir, made[0]!);
      const created = JSON.parse(await readFile(join(work, "client.json"), "utf8")) as { client: { name: string }; plain_secret: string };
      expect(created.client.name).toBe("GitHub Actions Deployment Service");
      expect(created.plain_secret).toMatch(/^m2msk_/);
      const token: unknown = JSON.parse(await readFile(join(work, "token.json"), "utf8"));
      expect(token).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "deploy:applications read:deployments" });
      expect(stdout).toContain('"valid": true');
      // Introspection, then revocation (200), then introspection again.
      expect(stdout).toContain('"active": true');
      expect(stdout).toContain('200\n{"active":false}');
      expect(stdout).toContain('"alg": "RS256"');
      expect(stdout).toContain('"failed_precondition"');
      expect(stdout).toContain('"status": "SIGNING_KEY_STATUS_CURRENT"');
      expect(stdout).toContain('"expires_in": 3600');
      expect(stdout).toContain('"total_size": 1');
      expect(stdout.trim().endsWith('"invalid_client"')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("documents every environment variable the service reads", async () => {
    // Every file that reads a variable for loadConfig (config.ts and the config-*.ts it uses).
    const config = (
      await Promise.all(["config.ts", "config-deployment.ts", "config-values.ts"].map((file) => readFile(new URL(`../src/${file}`, import.meta.url), "utf8")))
    ).join("\n");
    const variables = new Set([...config.matchAll(/"((?:M2M_|REDIS_|LOG_|TLS_)[A-Z_]+|PORT|HOST)"/g)].map((m) => m[1] as string));
    expect(variables.size).toBeGreaterThanOrEqual(9);
    for (const variable of variables) expect(readme).toContain(`| \`${variable}\``);
  });
});
