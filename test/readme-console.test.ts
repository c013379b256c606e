import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { getToken, startTestServer, type TestServer } from "./support/server.js";

// The README's "Admin console" snippets run as written, with curl and jq, against a real server.

const run = promisify(execFile);
let t: TestServer;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "m2m-readme-console-"));
  // A built console's entry page is all the headers snippet needs (test/console builds the real one).
  await writeFile(join(dir, "index.html"), "<!doctype html><title>console</title>");
  t = await startTestServer({ console: { consoleDir: dir } });
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

describe("README: Admin console", () => {
  it("makes an organization's console admin, and shows the page's security headers", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const section = /<!-- console:start -->([\s\S]*?)<!-- console:end -->/.exec(readme)?.[1] ?? "";
    const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks).toHaveLength(2);
    const env = { ...process.env, M2M_URL: t.url, ADMIN_ID: t.admin.clientId, ADMIN_SECRET: t.admin.clientSecret };
    const made = await run("bash", ["-euo", "pipefail", "-c", blocks[0]!], { cwd: dir, env });
    const creds = JSON.parse(made.stdout) as { client_id: string; client_secret: string };
    const claims = decodeJwt(await getToken(t.url, creds.client_id, creds.client_secret));
    expect(claims["oid"]).toBe("org_59615193906282635");
    expect(claims["scope"]).toBe("m2m:clients:read m2m:clients:write");

    const headers = await run("bash", ["-euo", "pipefail", "-c", blocks[1]!], { cwd: dir, env });
    const lines = headers.stdout.trim().split(/\r?\n/);
    expect(lines.map((l) => l.split(":")[0]!.toLowerCase()).sort()).toEqual(["content-security-policy", "referrer-policy", "x-frame-options"]);
    expect(headers.stdout).toMatch(/x-frame-options: DENY/i);
    expect(headers.stdout).toContain("script-src 'self'");
  });
});
