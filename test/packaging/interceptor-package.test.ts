import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildInterceptorPackage } from "../../src/ops/interceptor-package.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// @m2m-auth/interceptor as another service installs it: built from the same sources into a
// folder of its own (not dist/, which pack.test.ts's `npm pack` rebuilds meanwhile), packed, and
// installed from the registry's client into an empty project, next to the two peers the service has.

const run = promisify(execFile);
const serverDependencies = ["ioredis", "pino", "@connectrpc/connect-node", "prom-client", "commander", "@opentelemetry/api"];
let work: string;
let project: string;
let server: TestServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "m2m-interceptor-"));
  const built = buildInterceptorPackage(join(work, "package"));
  const { stdout } = await run("npm", ["pack", built, "--json", "--pack-destination", work]);
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  // The name the README's install line gives.
  const { version } = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  expect(packed!.filename).toBe(`m2m-auth-interceptor-${version}.tgz`);
  project = join(work, "service");
  await mkdir(project);
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "a-service", private: true, type: "module" }));
  const root = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { devDependencies: Record<string, string> };
  const peers = ["@connectrpc/connect", "@bufbuild/protobuf"].map((name) => `${name}@${root.devDependencies[name]}`);
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", join(work, packed!.filename), ...peers], { cwd: project, timeout: 110_000 });
  server = await startTestServer({ backend: "memory" });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("@m2m-auth/interceptor", () => {
  it("installs with jose and its peers, and none of the server's runtime dependencies", async () => {
    const { stdout } = await run("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: project });
    const installed = stdout
      .trim()
      .split("\n")
      .map((path) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
    expect(installed).toEqual(expect.arrayContaining(["@m2m-auth/interceptor", "jose", "@connectrpc/connect", "@bufbuild/protobuf"]));
    expect(installed.filter((name) => serverDependencies.includes(name))).toEqual([]);
  });

  it("verifies a real token from a running server, and refuses an altered one", async () => {
    const token = await getToken(server.url, server.admin.clientId, server.admin.clientSecret);
    const script = `
      import { createTokenVerifier } from "@m2m-auth/interceptor";
      const verifier = createTokenVerifier({ issuer: process.env.ISSUER, audience: process.env.ISSUER, jwksUri: process.env.JWKS });
      const claims = await verifier.verify(process.env.TOKEN);
      const altered = await verifier.verify(process.env.TOKEN.slice(0, -4) + "AAAA").then(() => "accepted", (e) => e.name);
      console.log(JSON.stringify({ sub: claims.sub, altered }));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      cwd: project,
      env: { PATH: process.env["PATH"] ?? "", ISSUER: server.issuer, JWKS: `${server.url}/keys`, TOKEN: token },
      timeout: 15_000,
    });
    const result = JSON.parse(stdout) as { sub: string; altered: string };
    expect(result.sub).toBe(server.admin.clientId);
    expect(result.altered).not.toBe("accepted");
  });
});
