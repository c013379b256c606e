import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getToken, seedClient, startTestServer, type TestServer } from "./support/server.js";

// The README's "API resources" section runs as written, with curl and jq, against a real server
// where the walk-through's client already uses the API.

const run = promisify(execFile);
let t: TestServer;
let dir: string;

beforeAll(async () => {
  t = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), "m2m-readme-rs-"));
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

describe("README: API resources", () => {
  it("registers, refuses an undefined scope, lists, limits, and deletes only when forced", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const section = /<!-- resource-servers:start -->([\s\S]*?)<!-- resource-servers:end -->/.exec(readme)?.[1] ?? "";
    const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks).toHaveLength(3);
    const adminToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    // The walk-through's client, registered before the registry existed, uses the API.
    const seeded = await fetch(`${t.url}/api/v1/organizations/org_59615193906282635/clients`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(seedClient),
    });
    expect(seeded.status).toBe(201);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", blocks.join("\n")], {
      cwd: dir,
      env: { ...process.env, M2M_URL: t.url, ADMIN_TOKEN: adminToken },
    });
    const created = JSON.parse(await readFile(join(dir, "resource-server.json"), "utf8")) as { resource_server: { id: string; audience: string } };
    expect(created.resource_server.id).toMatch(/^rs_/);
    expect(created.resource_server.audience).toBe("deployment-api.acmecorp.com");
    expect(stdout).toContain('"code": "invalid_argument"');
    expect(stdout).toContain("scopes: admin:everything");
    expect(stdout).toContain('\n1\n["org_59615193906282635"]\n');
    expect(stdout).toContain('"code": "failed_precondition"');
    expect(stdout).toContain("1 client(s) use deployment-api.acmecorp.com");
    expect(stdout.trim().endsWith('"client_count": 1\n}')).toBe(true);
  });
});
