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
  it("guards a Connect service end to end: the installed client interceptor gets the token, the installed auth interceptor checks it and the method's scopes", async () => {
    // A service of the consumer's own (built from a descriptor, as buf's generated code is), served
    // in process by @connectrpc/connect's router transport: only the installed packages are used.
    const script = `
      import { create, createFileRegistry } from "@bufbuild/protobuf";
      import { FileDescriptorProtoSchema, file_google_protobuf_empty } from "@bufbuild/protobuf/wkt";
      import { ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
      import { createAuthInterceptor, createClientCredentialsInterceptor, getAuthClaims } from "@m2m-auth/interceptor";
      const empty = ".google.protobuf.Empty";
      const file = create(FileDescriptorProtoSchema, {
        name: "demo/v1/demo.proto", package: "demo.v1", syntax: "proto3", dependency: ["google/protobuf/empty.proto"],
        service: [{ name: "Demo", method: [{ name: "Ping", inputType: empty, outputType: empty }, { name: "Deploy", inputType: empty, outputType: empty }] }],
      });
      const Demo = createFileRegistry(file, () => file_google_protobuf_empty).getService("demo.v1.Demo");
      const env = process.env;
      const callers = [];
      const routes = (router) => router.service(Demo, { ping: (_, ctx) => (callers.push(getAuthClaims(ctx).client_id), {}), deploy: () => ({}) });
      const auth = createAuthInterceptor({ issuer: env.ISSUER, audience: env.ISSUER, jwksUri: env.JWKS, requiredScopes: { "/demo.v1.Demo/Deploy": ["deploy:write"] } });
      const credentials = createClientCredentialsInterceptor({ tokenUrl: env.TOKEN_URL, clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET });
      const outcome = (call) => call.then(() => "ok", (e) => ConnectError.from(e).code);
      const withToken = createClient(Demo, createRouterTransport(routes, { router: { interceptors: [auth] }, transport: { interceptors: [credentials] } }));
      const without = createClient(Demo, createRouterTransport(routes, { router: { interceptors: [auth] } }));
      console.log(JSON.stringify({
        ping: await outcome(withToken.ping({})),
        deploy: await outcome(withToken.deploy({})),
        anonymous: await outcome(without.ping({})),
        callers,
      }));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      cwd: project,
      env: {
        PATH: process.env["PATH"] ?? "",
        ISSUER: server.issuer,
        JWKS: `${server.url}/keys`,
        TOKEN_URL: `${server.url}/oauth/token`,
        CLIENT_ID: server.admin.clientId,
        CLIENT_SECRET: server.admin.clientSecret,
      },
      timeout: 15_000,
    });
    // Connect's codes: 7 PermissionDenied (the token lacks deploy:write), 16 Unauthenticated (no token).
    expect(JSON.parse(stdout)).toEqual({ ping: "ok", deploy: 7, anonymous: 16, callers: [server.admin.clientId] });
  });
});
