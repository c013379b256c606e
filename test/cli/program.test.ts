import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProgram } from "../../src/cli/program.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { runCli } from "./run-cli.js";

// The rest of the command line: tokens, signing keys, the exit codes scripts rely on (0 ok,
// 1 refused / not found / unreachable, 2 usage) and every command's --help.

let t: TestServer;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  t = await startTestServer();
  env = { M2M_URL: t.url, M2M_ADMIN_CLIENT_ID: t.admin.clientId, M2M_ADMIN_CLIENT_SECRET: t.admin.clientSecret };
  dir = await mkdtemp(join(tmpdir(), "m2m-cli-"));
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

/** closedPort is a loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("m2m-auth token", () => {
  it("prints the access token alone, its decoded claims with --decode, the response with --json", async () => {
    const plain = await runCli(["token", "--client-id", t.admin.clientId, "--client-secret", t.admin.clientSecret], { M2M_URL: t.url });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);

    const decoded = await runCli(["token", "--decode", "--scope", "m2m:keys:read"], env);
    expect(JSON.parse(decoded.stdout)).toMatchObject({ header: { typ: "at+jwt" }, claims: { client_id: t.admin.clientId, scope: "m2m:keys:read" } });
    expect(decoded.stderr).toContain("not verified");

    const response = await runCli(["token", "--json"], env);
    expect(JSON.parse(response.stdout)).toMatchObject({ token_type: "Bearer", expires_in: 3600 });
  }, 60_000);

  it("reads the secret from stdin (-) or a file, keeping it off the command line", async () => {
    const ids = { M2M_URL: t.url, M2M_ADMIN_CLIENT_ID: t.admin.clientId };
    expect((await runCli(["token", "--client-secret", "-"], ids, `${t.admin.clientSecret}\n`)).code).toBe(0);
    const file = join(dir, "secret");
    await writeFile(file, `${t.admin.clientSecret}\n`, { mode: 0o600 });
    expect((await runCli(["token", "--client-secret-file", file], ids)).code).toBe(0);
    const missing = await runCli(["token"], ids);
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toContain("no client secret");
  }, 60_000);

  it("exits 1 with the OAuth error when the credentials are refused", async () => {
    const refused = await runCli(["token", "--client-secret", "wrong"], env);
    expect(refused).toMatchObject({ code: 1, stdout: "", stderr: "m2m-auth: token refused: invalid_client: client authentication failed\n" });
  });
});

describe("m2m-auth keys", () => {
  it("lists the keys and rotates: refused (exit 1, the API's reason) until forced", async () => {
    const listed = await runCli(["keys", "list"], env);
    expect(listed.stdout).toMatch(/^KID\s+ALG\s+STATUS\s+CREATED\s+ACTIVATED\s+RETIRES$/m);
    expect(listed.stdout).toMatch(/\sCURRENT\s/);
    const keys = JSON.parse((await runCli(["keys", "list", "--json"], env)).stdout) as { keys: { kid: string; status: string }[] };
    const next = keys.keys.find((k) => k.status === "SIGNING_KEY_STATUS_NEXT")!.kid;

    // The next key was published a moment ago: verifiers may not know it yet.
    const early = await runCli(["keys", "rotate"], env);
    expect(early).toMatchObject({ code: 1, stdout: "" });
    expect(early.stderr).toMatch(/^m2m-auth: FailedPrecondition: /);
    const forced = await runCli(["keys", "rotate", "--force"], env);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(next);
    expect(forced.stdout).toContain("the previous key stays in the JWKS");
  }, 60_000);
});

describe("exit codes and help", () => {
  it("exits 2 on usage errors, before calling anything", async () => {
    for (const args of [
      ["clients", "lst"],
      ["clients", "list"],
      ["clients", "list", "--org", "o", "--page-size", "ten"],
      ["clients", "update", "c", "--org", "o"],
      ["clients", "update", "c", "--org", "o", "--clear", "name"],
      ["clients", "update", "c", "--org", "o", "--clear", "scopes", "--scope", "read:a"],
      [],
    ]) {
      const result = await runCli(args, { M2M_URL: "http://127.0.0.1:9" });
      expect([args, result.code]).toEqual([args, 2]);
      expect(result.stdout.startsWith("Usage") || result.stderr !== "").toBe(true);
    }
  }, 60_000);

  it("ends quietly when its reader has gone (m2m-auth --help | head)", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "--help"], { cwd: fileURLToPath(new URL("../..", import.meta.url)) });
    // Closed before the process has written anything: its first write meets a closed pipe.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => child.once("close", resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  it("says which service it cannot reach (exit 1)", async () => {
    const port = await closedPort();
    const result = await runCli(["keys", "list"], { ...env, M2M_URL: `http://127.0.0.1:${port}` });
    expect(result).toMatchObject({ code: 1, stdout: "", stderr: `m2m-auth: cannot reach m2m-auth at http://127.0.0.1:${port}: ECONNREFUSED\n` });
  });

  it("gives every command a --help with an example", async () => {
    const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
    const path = (command: Command): string => (command.parent ? `${path(command.parent)} ${command.name()}` : command.name());
    for (const command of all(createProgram())) {
      let help = "";
      command.configureOutput({ writeOut: (s) => (help += s) });
      command.outputHelp();
      // The example runs this very command (after any environment it needs).
      expect(help, path(command)).toMatch(new RegExp(`\\nExample:\\n  \\$ (\\S+=\\S+ )*${path(command)}( |\\n)`));
    }
    const real = await runCli(["clients", "list", "--help"], {});
    expect(real.code).toBe(0);
    expect(real.stdout).toContain("$ m2m-auth clients list --org org_59615193906282635 --json");
  });
});
