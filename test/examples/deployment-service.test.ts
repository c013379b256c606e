import { execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClient } from "../../examples/deployment-service/client.js";
import { DeploymentService } from "../../examples/deployment-service/gen/example/v1/deployment_pb.js";
import { startDeploymentService, type RunningDeploymentService } from "../../examples/deployment-service/server.js";
import { createClientCredentialsInterceptor } from "../../src/interceptor/index.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// The example users copy, end to end: a real token service, the example service on a free port,
// and the example caller, in process and through its npm scripts.

const root = fileURLToPath(new URL("../..", import.meta.url));
const audience = "deployment-api.acmecorp.com";
let t: TestServer;
let service: RunningDeploymentService;
let adminToken: string;

interface Credentials {
  clientId: string;
  clientSecret: string;
}

async function registerClient(organization: string, scopes: string[]): Promise<Credentials> {
  const res = await fetch(`${t.url}/api/v1/organizations/${organization}/clients`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ ...seedClient, scopes, audience: [audience] }),
  });
  const body = (await res.json()) as { client: { client_id: string }; plain_secret: string };
  expect(res.status).toBe(201);
  return { clientId: body.client.client_id, clientSecret: body.plain_secret };
}

function clientOf(credentials: Credentials) {
  const interceptor = createClientCredentialsInterceptor({ tokenUrl: `${t.url}/oauth/token`, ...credentials });
  return createClient(DeploymentService, createGrpcTransport({ baseUrl: service.url, interceptors: [interceptor] }));
}

function npmRun(script: string, env: Record<string, string>) {
  const child = spawn("npm", ["run", "--silent", script], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so that the whole tree (npm, node) can be stopped at once.
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

async function until(condition: () => string | undefined, what: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const value = condition();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  t = await startTestServer({ backend: "memory" });
  adminToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  service = await startDeploymentService({ port: 0, issuer: t.issuer, audience, jwksUri: `${t.url}/.well-known/jwks.json` });
});
afterAll(async () => {
  await service?.close();
  await t?.close();
});

describe("example deployment service", () => {
  it("lets a client with both scopes create and list deployments", async () => {
    const credentials = await registerClient("org_deployer", ["deploy:applications", "read:deployments"]);
    const options = { baseUrl: service.url, tokenUrl: `${t.url}/oauth/token`, ...credentials };
    const first = await runClient(options);
    expect(first.created).toMatchObject({ application: "inventory-service", environment: "production_us", createdBy: credentials.clientId });
    expect(first.deployments.map((d) => d.id)).toEqual([first.created.id]);
    const second = await runClient(options);
    expect(second.deployments.map((d) => d.id)).toEqual([first.created.id, second.created.id]);
  });

  it("keeps each organization's deployments to itself", async () => {
    const other = await registerClient("org_other", ["deploy:applications", "read:deployments"]);
    const { deployments } = await clientOf(other).listDeployments({});
    expect(deployments).toEqual([]);
  });

  it("refuses CreateDeployment to a client with only read:deployments", async () => {
    const reader = clientOf(await registerClient("org_reader", ["read:deployments"]));
    await expect(reader.listDeployments({})).resolves.toMatchObject({ deployments: [] });
    const err = await reader.createDeployment({ application: "a", environment: "e", version: "v" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect((err as ConnectError).rawMessage).toContain("deploy:applications");
  });

  it("refuses a call without a token, over gRPC and Connect", async () => {
    for (const transport of [createGrpcTransport({ baseUrl: service.url }), createConnectTransport({ baseUrl: service.url, httpVersion: "2" })]) {
      const err = await createClient(DeploymentService, transport)
        .listDeployments({})
        .catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(Code.Unauthenticated);
    }
  });

  it("serves HTTP/1.1 on the same port: curl with the Connect protocol, and a gRPC-Web client", async () => {
    const credentials = await registerClient("org_http1", ["deploy:applications", "read:deployments"]);
    // gRPC-Web through fetch, which speaks HTTP/1.1, as a browser's would.
    const interceptor = createClientCredentialsInterceptor({ tokenUrl: `${t.url}/oauth/token`, ...credentials });
    const web = createClient(DeploymentService, createGrpcWebTransport({ baseUrl: service.url, interceptors: [interceptor] }));
    const { deployment } = await web.createDeployment({ application: "inventory-service", environment: "staging", version: "v2" });
    expect(deployment?.createdBy).toBe(credentials.clientId);

    const token = await getToken(t.url, credentials.clientId, credentials.clientSecret);
    const { stdout } = await promisify(execFile)("curl", [
      ...["-sS", "--http1.1", "-w", "\n%{http_version} %{http_code}", `${service.url}/example.v1.DeploymentService/ListDeployments`],
      ...["-H", "content-type: application/json", "-H", `authorization: Bearer ${token}`, "-d", "{}"],
    ]);
    const [body, status] = stdout.split("\n");
    expect(status).toBe("1.1 200");
    expect((JSON.parse(body!) as { deployments: { id: string }[] }).deployments.map((d) => d.id)).toEqual([deployment?.id]);
    // The guide's curl line, as written.
    const guide = await readFile(new URL("../../docs/interceptor.md", import.meta.url), "utf8");
    const snippet = /<!-- listener-curl:start -->\n```bash\n([\s\S]*?)```/.exec(guide)?.[1] ?? "";
    expect(snippet).toContain("curl");
    const env = { ...process.env, DEPLOYMENT_SERVICE_URL: service.url, TOKEN: token };
    const guided = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", snippet], { env });
    expect(JSON.parse(guided.stdout)).toMatchObject({ deployments: [{ id: deployment?.id }] });
    // Without a token, the Connect protocol's 401 and its error body.
    const refused = await fetch(`${service.url}/example.v1.DeploymentService/ListDeployments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: "unauthenticated" });
  });

  it("runs with npm run example:server and npm run example:client", async () => {
    const credentials = await registerClient("org_scripts", ["deploy:applications", "read:deployments"]);
    const server = npmRun("example:server", { PORT: "0", M2M_ISSUER: t.issuer, M2M_JWKS_URI: `${t.url}/.well-known/jwks.json` });
    try {
      const url = await until(() => /DeploymentService on (http:\S+)/.exec(server.stdout())?.[1], `example:server: ${server.stderr()}`);
      const env = { M2M_ISSUER: t.url, DEPLOYMENT_SERVICE_URL: url };
      const client = npmRun("example:client", { ...env, CLIENT_ID: credentials.clientId, CLIENT_SECRET: credentials.clientSecret });
      expect(await client.exited, client.stderr()).toBe(0);
      expect(client.stdout()).toMatch(/^created dep_1 inventory-service v1\.4\.2 → production_us by m2m/m);
      expect(client.stdout()).toContain("1 deployment(s):");

      const unset = npmRun("example:client", env);
      expect(await unset.exited).toBe(2);
      expect(unset.stderr()).toContain("Set CLIENT_ID and CLIENT_SECRET");
    } finally {
      process.kill(-server.child.pid!, "SIGTERM");
      await server.exited;
    }
  }, 60_000);
});
