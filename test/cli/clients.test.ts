import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getToken, startTestServer, type TestServer } from "../support/server.js";
import { runCli } from "./run-cli.js";

// `m2m-auth clients …` and `secrets …` as an operator runs them, against a real server on Redis:
// tables for people, the API's JSON for scripts, each new secret shown once and usable at once.

let t: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startTestServer();
  env = { M2M_URL: t.url, M2M_ADMIN_CLIENT_ID: t.admin.clientId, M2M_ADMIN_CLIENT_SECRET: t.admin.clientSecret };
});
afterAll(() => t.close());

interface ClientJson {
  client_id: string;
  name: string;
  scopes: string[];
  audience: string[];
  custom_claims: { key: string; value: string }[];
  expiry: number;
  secrets: { id: string; secret_suffix: string }[];
}

const json = <T>(stdout: string): T => JSON.parse(stdout) as T;

describe("m2m-auth clients", () => {
  it("creates, lists, gets, updates and deletes a client, as tables and as --json", async () => {
    const org = ["--org", "org_cli"];
    const made = await runCli(["clients", "create", ...org, "--name", "Deploy bot", "--scope", "deploy:apps", "--audience", "api.example"], env);
    expect(made).toMatchObject({ code: 0, stderr: "" });
    const id = /^client_id\s+(\S+)$/m.exec(made.stdout)![1]!;
    const secret = /^client_secret: (m2msk_\S+)$/m.exec(made.stdout)![1]!;
    expect(made.stdout).toContain("This secret is shown once");
    expect(made.stdout).toMatch(/^scopes\s+deploy:apps$/m);
    // The secret printed is the client's, usable at the token endpoint straight away.
    await getToken(t.url, id, secret);

    const second = await runCli(
      [
        "--json",
        "clients",
        "create",
        ...org,
        "--name",
        "Reporter",
        "--scope",
        "read:a",
        "--audience",
        "api.example",
        "--claim",
        "env=prod=eu",
        "--expiry",
        "600",
      ],
      env,
    );
    expect(second.code).toBe(0);
    const created = json<{ client: ClientJson; plain_secret: string }>(second.stdout);
    expect(created.client).toMatchObject({ name: "Reporter", expiry: 600, custom_claims: [{ key: "env", value: "prod=eu" }] });
    expect(created.plain_secret).toMatch(/^m2msk_/);
    expect(created.client.secrets[0]!.secret_suffix).toBe(created.plain_secret.slice(-4));

    const listed = await runCli(["clients", "list", ...org, "--json"], env);
    expect(json<{ clients: ClientJson[]; total_size: number }>(listed.stdout)).toMatchObject({ total_size: 2, next_page_token: "" });
    const table = await runCli(["clients", "list", ...org], env);
    expect(table.stdout.split("\n")[0]).toMatch(/^CLIENT_ID\s+NAME\s+SCOPES\s+AUDIENCE\s+SECRETS\s+CREATED$/);
    expect(table.stdout).toContain("Deploy bot");
    expect(table.stdout).toContain("2 of 2");
    const page = json<{ clients: ClientJson[]; next_page_token: string }>(
      (await runCli(["clients", "list", ...org, "--page-size", "1", "--json"], env)).stdout,
    );
    expect(page.clients.map((c) => c.client_id)).toEqual([id]);
    expect(page.next_page_token).not.toBe("");
    const all = json<{ clients: ClientJson[]; next_page_token: string }>(
      (await runCli(["clients", "list", ...org, "--page-size", "1", "--all", "--json"], env)).stdout,
    );
    expect(all.clients.map((c) => c.name)).toEqual(["Deploy bot", "Reporter"]);
    expect(all.next_page_token).toBe("");

    const got = await runCli(["clients", "get", created.client.client_id, ...org], env);
    expect(got.stdout).toMatch(/^custom_claims\s+env=prod=eu$/m);
    expect(got.stdout).toMatch(/^expiry\s+600 s$/m);
    expect(got.stdout).toMatch(/^SECRET_ID\s+SUFFIX\s+STATUS\s+CREATED\s+LAST_USED$/m);
    // A secret is never shown again: only its suffix.
    expect(got.stdout).not.toContain(created.plain_secret);

    // Only the flags given change (the update mask is built from them).
    const updated = await runCli(
      ["clients", "update", id, ...org, "--name", "Deployer", "--scope", "deploy:apps", "--scope", "read:deployments", "--json"],
      env,
    );
    expect(json<{ client: ClientJson }>(updated.stdout).client).toMatchObject({
      name: "Deployer",
      scopes: ["deploy:apps", "read:deployments"],
      audience: ["api.example"],
    });
    // --clear empties a list, which a repeatable flag cannot (it sets one item at least).
    const cleared = await runCli(["clients", "update", id, ...org, "--clear", "scopes", "--json"], env);
    expect(json<{ client: ClientJson }>(cleared.stdout).client).toMatchObject({ name: "Deployer", scopes: [], audience: ["api.example"] });

    // Without a terminal a delete needs --yes: refused as usage, nothing deleted.
    const unconfirmed = await runCli(["clients", "delete", id, ...org], env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("pass --yes");
    expect((await runCli(["clients", "get", id, ...org, "--json"], env)).code).toBe(0);
    expect(await runCli(["clients", "delete", id, ...org, "--yes"], env)).toMatchObject({ code: 0, stdout: `deleted client ${id}\n` });
    const gone = await runCli(["clients", "get", id, ...org], env);
    expect(gone).toMatchObject({ code: 1, stdout: "" });
    expect(gone.stderr).toMatch(/^m2m-auth: NotFound: .*not found/);
  }, 120_000);

  it("adds a secret shown once and deletes one, which stops authenticating", async () => {
    const made = json<{ client: ClientJson; plain_secret: string }>(
      (await runCli(["clients", "create", "--org", "org_cli2", "--name", "rotating", "--audience", "api.example", "--json"], env)).stdout,
    );
    const id = made.client.client_id;
    const added = await runCli(["secrets", "add", id, "--org", "org_cli2"], env);
    expect(added.code).toBe(0);
    const secret = /^client_secret: (m2msk_\S+)$/m.exec(added.stdout)![1]!;
    expect(added.stdout).toContain("shown once");
    await getToken(t.url, id, secret);
    const old = made.client.secrets[0]!.id;
    expect(await runCli(["secrets", "delete", id, old, "--org", "org_cli2", "--yes"], env)).toMatchObject({ code: 0, stdout: `deleted secret ${old}\n` });
    await expect(getToken(t.url, id, made.plain_secret)).rejects.toThrow(/invalid_client/);
    await getToken(t.url, id, secret);
  }, 60_000);

  it("lets an organization admin manage its own organization only", async () => {
    const made = json<{ client: ClientJson; plain_secret: string }>(
      (
        await runCli(
          [
            "clients",
            "create",
            "--org",
            "org_own",
            "--name",
            "org admin",
            "--scope",
            "m2m:clients:read",
            "--scope",
            "m2m:clients:write",
            "--audience",
            t.issuer,
            "--json",
          ],
          env,
        )
      ).stdout,
    );
    const orgAdmin = { M2M_URL: t.url, M2M_ADMIN_CLIENT_ID: made.client.client_id, M2M_ADMIN_CLIENT_SECRET: made.plain_secret };
    expect((await runCli(["clients", "list", "--org", "org_own"], orgAdmin)).code).toBe(0);
    const other = await runCli(["clients", "list", "--org", "org_cli"], orgAdmin);
    expect(other).toMatchObject({ code: 1, stdout: "" });
    expect(other.stderr).toMatch(/^m2m-auth: PermissionDenied: /);
  }, 60_000);
});

describe("m2m-auth clients: the keys and identities a client authenticates with", () => {
  const github = "https://token.actions.githubusercontent.com";
  let keyed: TestServer;
  let keyedEnv: Record<string, string>;
  beforeAll(async () => {
    keyed = await startTestServer({ federated: { federatedIssuers: [github] }, clientJwks: { clientJwksOrigins: ["https://keys.example"] } });
    keyedEnv = { M2M_URL: keyed.url, M2M_ADMIN_CLIENT_ID: keyed.admin.clientId, M2M_ADMIN_CLIENT_SECRET: keyed.admin.clientSecret };
  });
  afterAll(() => keyed.close());

  it("registers a JWK Set file and a federated identity, refuses a private key, and swaps them for a jwks_uri", async () => {
    const dir = mkdtempSync(join(tmpdir(), "m2m-cli-"));
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    writeFileSync(join(dir, "public.json"), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "deploy-1", alg: "ES256" }] }));
    writeFileSync(join(dir, "private.json"), JSON.stringify({ keys: [{ ...(await exportJWK(privateKey)), kid: "deploy-1" }] }));
    const org = ["--org", "org_cli3"];
    const subject = "repo:acme/deploy:ref:refs/heads/main";

    const made = await runCli(
      [
        "clients",
        "create",
        ...org,
        "--name",
        "keyed",
        "--audience",
        "api.example",
        "--jwks-file",
        join(dir, "public.json"),
        "--federated",
        `issuer=${github},subject=${subject}`,
        "--json",
      ],
      keyedEnv,
    );
    const client = json<{ client: ClientJson & { jwks: { keys: { kid: string; kty: string }[] }; federated_identities: unknown[] } }>(made.stdout).client;
    expect(client.jwks.keys).toEqual([expect.objectContaining({ kid: "deploy-1", kty: "EC" })]);
    // The API fills in the audience: this service's issuer URL (clients.proto).
    expect(client.federated_identities).toEqual([{ issuer: github, subject, audience: keyed.issuer }]);
    const shown = await runCli(["clients", "get", client.client_id, ...org], keyedEnv);
    expect(shown.stdout).toMatch(/^jwks\s+deploy-1$/m);
    expect(shown.stdout).toContain(`federated      ${github} ${subject} ${keyed.issuer}`);

    // A file holding `d` is a private key: refused before any call, and the message says why.
    const leaked = await runCli(["clients", "create", ...org, "--name", "leaky", "--jwks-file", join(dir, "private.json")], keyedEnv);
    expect(leaked.code).toBe(2);
    expect(leaked.stderr).toContain("not a JWK Set of public keys");
    for (const bad of ["issuer=" + github, `subject=${subject}`, `issuer=${github},subject=a,subject=b`, `issuer=${github},subjct=a`]) {
      expect((await runCli(["clients", "create", ...org, "--name", "x", "--federated", bad], keyedEnv)).code).toBe(2);
    }

    // A client has jwks or jwks_uri, never both: one update clears the one and sets the other.
    const swapped = await runCli(
      [
        "clients",
        "update",
        client.client_id,
        ...org,
        "--clear",
        "jwks",
        "--clear",
        "federated_identities",
        "--jwks-uri",
        "https://keys.example/deploy.json",
        "--json",
      ],
      keyedEnv,
    );
    const after = json<{ client: Record<string, unknown> }>(swapped.stdout).client;
    expect(after).toMatchObject({ jwks_uri: "https://keys.example/deploy.json", federated_identities: [] });
    expect(after.jwks).toBeUndefined();
    // The API's own refusal (an origin not allowed) is printed as it said it, exit 1.
    const refused = await runCli(["clients", "update", client.client_id, ...org, "--jwks-uri", "https://elsewhere.example/k.json"], keyedEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("M2M_CLIENT_JWKS_ORIGINS");
  }, 60_000);
});
