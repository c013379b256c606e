import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeBlocks, section } from "./examples/excerpts.js";
import { startTestServer, type TestServer } from "./support/server.js";

// The README's command-line section runs as written against a real server. `npx m2m-auth` is the
// TypeScript entry here (through tsx): dist/ is test/packaging's to build, which checks the real bin.

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
let t: TestServer;
let text: string;
let dir: string;

beforeAll(async () => {
  t = await startTestServer();
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  text = section(readme, "Command line");
  dir = await mkdtemp(join(tmpdir(), "m2m-readme-cli-"));
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

describe("README: command line", () => {
  it("shows the issue's examples and names the variables the CLI reads", () => {
    expect(text).toContain("npx m2m-auth clients list --org org_59615193906282635 --json");
    expect(text).toContain('npx m2m-auth token --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET"');
    const setup = codeBlocks(text)[0]!.code;
    for (const variable of ["M2M_URL", "M2M_ADMIN_CLIENT_ID", "M2M_ADMIN_CLIENT_SECRET"]) expect(setup).toContain(`export ${variable}=`);
  });

  it("runs as written", async () => {
    const marked = /<!-- cli:start -->([\s\S]*?)<!-- cli:end -->/.exec(text)?.[1] ?? "";
    const blocks = codeBlocks(marked);
    const script = blocks
      .filter((b) => b.lang === "bash")
      .map((b) => b.code)
      .join("\n");
    const npx = `npx() { if [ "$1" = m2m-auth ]; then shift; "${root}node_modules/.bin/tsx" "${root}src/cli/main.ts" "$@"; else command npx "$@"; fi; }\n`;
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", npx + script], {
      cwd: dir,
      env: { PATH: process.env["PATH"] ?? "", M2M_URL: t.url, M2M_ADMIN_CLIENT_ID: t.admin.clientId, M2M_ADMIN_CLIENT_SECRET: t.admin.clientSecret },
    });
    expect(stdout).toContain('"total_size": 1');
    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/m);
    expect(stdout).toContain('"typ": "at+jwt"');
    expect(stdout).toMatch(/^deleted client m2morg_\w+$/m);
    // The sample table is the real one's shape: the same header, the same columns.
    const sample = blocks.find((b) => b.lang === "")!.code.split("\n");
    const lines = stdout.split("\n");
    const at = lines.findIndex((line) => line.startsWith("CLIENT_ID"));
    const columns = (line: string) => line.split(/\s{2,}/).slice(1, 4);
    expect(lines[at]).toBe(sample[0]);
    expect(columns(lines[at + 1]!)).toEqual(columns(sample[1]!));
    expect(lines[at + 2]).toBe(sample[2]);
  }, 60_000);
});
