import { Command, Option } from "commander";
import { RotateSigningKeyResponseSchema, ListSigningKeysResponseSchema } from "../../gen/m2mauth/v1/keys_pb.js";
import { addClientCommands } from "./client-commands.js";
import { fetchToken, readCredentials } from "./client.js";
import { collect, contextOf, example, withApi, withErrors } from "./command-kit.js";
import { keyRows } from "./output.js";

// The command tree. commander parses, writes --help and usage errors; main.ts maps its errors to
// exit code 2. Commands that start the service or read its store load those files only when run,
// so `m2m-auth --help` and the API commands never import the server.

/** decodeJwt splits a JWT into its header and claims (base64url JSON, RFC 7519 §7.2 steps 1–6, no verification). */
function decodeJwt(token: string): { header: unknown; claims: unknown } {
  const [header, claims] = token
    .split(".")
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown);
  return { header, claims };
}

/** createProgram builds the `m2m-auth` command line. */
export function createProgram(): Command {
  const program = new Command("m2m-auth")
    .description("m2m-auth: run the token service, or administer a running one through its API")
    // Usage errors throw instead of exiting, so main.ts gives them exit code 2.
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .addOption(new Option("--url <url>", "the service's base URL").env("M2M_URL").default("http://127.0.0.1:8080"))
    .addOption(new Option("--client-id <id>", "an admin (or org admin) client id").env("M2M_ADMIN_CLIENT_ID"))
    .addOption(new Option("--client-secret <secret>", "its secret; - reads it from stdin").env("M2M_ADMIN_CLIENT_SECRET"))
    .option("--client-secret-file <path>", "read the secret from a file (keeps it out of shell history)")
    .option("--json", "print the API's response as JSON (snake_case fields, as the REST API)");
  example(program, "m2m-auth clients list --org org_59615193906282635 --json", "m2m-auth token --client-id m2morg_… --client-secret-file secret.txt");

  example(
    program.command("serve").description("run the service (what npm start runs), configured by the environment: see the README's Configuration"),
    "PORT=8080 REDIS_URL=redis://127.0.0.1:6379 m2m-auth serve",
  ).action(async () => {
    await import("../main.js");
  });

  const token = program
    .command("token")
    .description("get an access token with client credentials (POST /oauth/token) and print it")
    .option("--scope <scope>", "ask for this scope only (repeatable; default: all the client's)", collect)
    .option("--decode", "print the token's header and claims as JSON instead (decoded, NOT verified)");
  example(token, "m2m-auth token --client-id m2morg_… --client-secret -", "m2m-auth token --decode");
  token.action((opts: { scope?: string[]; decode?: boolean }, command: Command) => {
    const { globals, out } = contextOf(command);
    return withErrors(globals.url, async () => {
      const response = await fetchToken(globals.url, await readCredentials(globals), opts.scope);
      if (opts.decode === true) {
        out.note("decoded only: the signature is not verified (verify with the keys at /.well-known/jwks.json)");
        process.stdout.write(`${JSON.stringify(decodeJwt(response.access_token), null, 2)}\n`);
      } else if (out.json) {
        process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
      } else {
        process.stdout.write(`${response.access_token}\n`);
      }
    });
  });

  addClientCommands(program);

  const keys = example(program.command("keys").description("the service's signing keys"), "m2m-auth keys list --json");
  example(keys.command("list").description("list the signing keys: current, next, previous"), "m2m-auth keys list").action((_opts, command: Command) =>
    withApi(command, async (api, { out }) => {
      out.message(ListSigningKeysResponseSchema, await api.keys.listSigningKeys({}), (m) => keyRows(m.keys));
    }),
  );
  example(
    keys
      .command("rotate")
      .description("make the next key current: new tokens are signed with it, old tokens still verify until they expire")
      .option("--force", "rotate even when verifiers may not know the next key yet (a leaked key only)"),
    "m2m-auth keys rotate",
  ).action((opts: { force?: boolean }, command: Command) =>
    withApi(command, async (api, { out }) => {
      const rotated = await api.keys.rotateSigningKey({ force: opts.force === true });
      out.message(RotateSigningKeyResponseSchema, rotated, (m) => [
        ...keyRows(m.key === undefined ? [] : [m.key]),
        "Rotated: new tokens are signed with this key; the previous key stays in the JWKS until every token it signed has expired.",
      ]);
    }),
  );

  const store = example(
    program.command("store").description("operator commands on the service's Redis (same environment as the service)"),
    "REDIS_URL=redis://127.0.0.1:6379 m2m-auth store check",
  );
  example(
    store
      .command("check")
      .description("walk the store and report damage (what npm run store:check runs); exit 0 clean, 1 findings, 2 usage, 3 could not run")
      .option("--repair", "repair what it finds"),
    "REDIS_URL=redis://127.0.0.1:6379 m2m-auth store check --json",
  ).action(async (opts: { repair?: boolean }, command: Command) => {
    // The check reads its flags from argv, as `npm run store:check -- --json` passes them.
    const flags = [...(opts.repair === true ? ["--repair"] : []), ...(contextOf(command).out.json ? ["--json"] : [])];
    process.argv.splice(2, process.argv.length, ...flags);
    await import("../ops/store-check-main.js");
  });
  return program;
}
