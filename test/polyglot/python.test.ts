import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { codeBlocks, section } from "../examples/excerpts.js";
import { startTestServer, type TestServer } from "../support/server.js";

// An independent stack: Debian's Python gRPC and PyJWT run the README's "Calling from other
// languages" steps as written, stubs generated from proto/ with the README's command, against a
// real server. CI installs the packages (.ci/run); the test skips, naming them, only where they
// are absent.

const run = promisify(execFile);
// Debian's interpreter: a python3 first on PATH (pyenv) may not see Debian's modules.
const python = "/usr/bin/python3";
const packages = "python3-grpcio python3-grpc-tools python3-jwt";
const root = fileURLToPath(new URL("../../", import.meta.url));

async function pythonReady(): Promise<boolean> {
  try {
    await run(python, ["-c", "import grpc, grpc_tools, jwt"]);
    return true;
  } catch {
    return false;
  }
}

describe("Python (grpcio, grpc_tools, PyJWT) through the README's snippet", () => {
  let t: TestServer;
  let ready: boolean;
  let steps: { stubs: string; script: string };
  beforeAll(async () => {
    ready = await pythonReady();
    const readme = section(await readFile(join(root, "README.md"), "utf8"), "Calling from other languages");
    const blocks = codeBlocks(readme);
    steps = { stubs: blocks.find((b) => b.lang === "bash")?.code ?? "", script: blocks.find((b) => b.lang === "python")?.code ?? "" };
    if (ready) t = await startTestServer();
  });
  afterAll(() => t?.close());

  it("generates stubs, registers the seed's client over gRPC, and verifies its token with PyJWKClient", async (ctx) => {
    ctx.skip(!ready, `${python} cannot import grpc, grpc_tools and jwt: apt-get install -y ${packages} (.ci/run does)`);
    expect(steps.stubs).toContain("grpc_tools.protoc");
    expect(steps.script).toContain("PyJWKClient");
    const dir = await mkdtemp(join(tmpdir(), "m2m-python-"));
    try {
      // The README's commands run from the repository root: here a directory whose proto/ is ours.
      await symlink(join(root, "proto"), join(dir, "proto"));
      const path = `/usr/bin:${process.env.PATH ?? ""}`;
      await run("bash", ["-euo", "pipefail", "-c", steps.stubs], { cwd: dir, env: { ...process.env, PATH: path } });
      await writeFile(join(dir, "client.py"), steps.script);
      const { stdout } = await run(python, ["client.py"], {
        cwd: dir,
        env: {
          ...process.env,
          PATH: path,
          PYTHONPATH: join(dir, "gen-py"),
          M2M_URL: t.url,
          M2M_ISSUER: t.issuer,
          ADMIN_ID: t.admin.clientId,
          ADMIN_SECRET: t.admin.clientSecret,
        },
      });
      const verified = /^verified: (m2morg_\S+) (.*)$/m.exec(stdout);
      expect(verified?.[2]).toBe("deploy:applications read:deployments");
      expect(stdout).toContain("refused: INVALID_ARGUMENT ['expiry']");

      // The client Python registered is the seed's, as the service keeps it.
      const transport = createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" });
      const admin = await createClient(TokenService, transport).issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret });
      const { client } = await createClient(OrganizationClientService, transport).getOrganizationClient(
        { organizationId: "org_59615193906282635", clientId: verified?.[1] ?? "" },
        { headers: { authorization: `Bearer ${admin.accessToken}` } },
      );
      expect(client).toMatchObject({ name: "GitHub Actions Deployment Service", expiry: 3600, audience: ["deployment-api.acmecorp.com"] });
      expect(client?.customClaims.map((c) => [c.key, c.value])).toEqual([
        ["github_repository", "acmecorp/inventory-service"],
        ["environment", "production_us"],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
