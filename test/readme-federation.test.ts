import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxFederatedAssertionLifetimeSeconds } from "../src/rules.js";
import { managementApi } from "./support/management-api.js";
import { getToken, startTestServer, type TestServer } from "./support/server.js";
import { startLocalIssuer, type LocalIssuer } from "./tokens/federated-issuer.js";

// The README's workload identity federation section runs as written, with curl and jq, against a
// real server and a local issuer standing in for GitHub Actions and a Kubernetes cluster.

const run = promisify(execFile);
let t: TestServer;
let issuer: LocalIssuer;
let section: string;
let dir: string;
let clientId = "";

const blocks = (lang: string) => [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1] as string);
const bash = (script: string, env: Record<string, string>) => run("bash", ["-euo", "pipefail", "-c", script], { cwd: dir, env: { ...process.env, ...env } });

beforeAll(async () => {
  issuer = await startLocalIssuer();
  t = await startTestServer({ federated: { federatedIssuers: [issuer.url] } });
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  section = /<!-- federation:start -->([\s\S]*?)<!-- federation:end -->/.exec(readme)?.[1] ?? "";
  dir = await mkdtemp(join(tmpdir(), "m2m-readme-fed-"));
});
afterAll(async () => {
  await t.close();
  await issuer.close();
  await rm(dir, { recursive: true, force: true });
});

describe("README: secretless clients", () => {
  it("registers the GitHub Actions client as written", async () => {
    const { stdout } = await bash(blocks("bash")[0] ?? "", {
      M2M_URL: t.url,
      M2M_ISSUER: t.issuer,
      OIDC_ISSUER: issuer.url,
      ADMIN_ID: t.admin.clientId,
      ADMIN_SECRET: t.admin.clientSecret,
    });
    clientId = stdout.trim();
    expect(clientId).toMatch(/^m2morg_/);
  });

  it("runs the workflow step as written: no secret, an access token for the client", async () => {
    const workflow = blocks("yaml")[0] ?? "";
    expect(workflow).toMatch(/^permissions:\n {2}id-token: write$/m);
    const step = /run: \|\n((?: {10}.*\n)+)/.exec(workflow)?.[1] ?? "";
    const script = step.replace(/^ {10}/gm, "");
    expect(script).toContain("$ACTIONS_ID_TOKEN_REQUEST_URL&audience=$M2M_ISSUER");
    const githubEnv = join(dir, "github-env");
    await writeFile(githubEnv, "");
    const { stdout } = await bash(script, {
      M2M_URL: t.url,
      M2M_ISSUER: t.issuer,
      CLIENT_ID: clientId,
      ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer.url}/actions-token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.actions.requestToken,
      GITHUB_ENV: githubEnv,
    });
    expect(stdout).toMatch(/^::add-mask::ey/);
    const accessToken = /^ACCESS_TOKEN=(.+)$/m.exec(await readFile(githubEnv, "utf8"))?.[1] ?? "";
    expect(decodeJwt(accessToken)).toMatchObject({ sub: clientId, scope: "deploy:applications read:deployments", aud: "deployment-api.acmecorp.com" });
  });

  it("exchanges a Kubernetes projected token as written, once", async () => {
    const pod = blocks("yaml")[1] ?? "";
    const expiration = Number(/expirationSeconds: (\d+)/.exec(pod)?.[1]);
    expect(expiration).toBeLessThanOrEqual(maxFederatedAssertionLifetimeSeconds);
    expect(pod).toContain("audience: https://auth.acmecorp.com");
    const api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
    const patched = await api.call("PATCH", `org_59615193906282635/clients/${clientId}`, {
      federated_identities: [{ issuer: issuer.url, subject: "system:serviceaccount:deploy:deployer" }],
    });
    expect(patched.status).toBe(200);
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, await issuer.token({ sub: "system:serviceaccount:deploy:deployer", aud: t.issuer }));
    const exchange = () => bash(blocks("bash")[1] ?? "", { M2M_URL: t.url, CLIENT_ID: clientId, TOKEN_FILE: tokenFile });
    expect(decodeJwt((await exchange()).stdout.trim())).toMatchObject({ sub: clientId });
    // The same projected token again: refused (single use), so jq finds no access_token.
    expect((await exchange()).stdout.trim()).toBe("null");
  });
});
