import { parseArgs } from "node:util";
import { reinit, resetAdmin, restore, status, type ActionResult, type StoreActionOptions } from "./store-actions.js";

/** storeInitHelp is the command's help text (`npm run store:init -- --help`). */
export const storeInitHelp = `Usage: npm run store:init -- <mode> [options]

Looks after the issuer's own state in the store under M2M_KEY_PREFIX: the store marker, the
secret-hash key (unless M2M_SECRET_HASH_KEY is set), the signing key ring and the bootstrap admin.
A first start on an empty prefix makes them by itself; this command is for what must never
happen silently. It reads the same environment as the service (REDIS_*, M2M_*).

Modes:
  --status             describe the state and any restore offers (default); exit 1 when incomplete
  --restore            write back the state the running instances still hold. An instance that
                       finds its state gone from the store (Redis flushed, restarted without
                       persistence, keys evicted) stops serving and offers its copy; --restore
                       writes it back when all offers agree, and the instances serve again.
    --from <instance>  restore this instance's offer even though the offers disagree
  --reinit --yes       start over: a new signing key ring (tokens signed before stop verifying), a
                       new secret-hash key unless configured (clients made before stop
                       authenticating), a new bootstrap admin printed once; restart every instance
  --reset-admin        replace the bootstrap admin (disabled once M2M_ADMIN_CLIENT_ID/_SECRET were
                       set) with a new one, printed once; needs those variables unset

Exit codes: 0 done, 1 refused or the state is incomplete (the reason is printed), 2 bad usage
or configuration.
`;

/** StoreInitResult is the command's exit code and what to print on stderr. */
export interface StoreInitResult {
  code: number;
  error?: string;
}

/** runStoreInit parses the arguments and runs one mode; it never exits the process itself. */
export async function runStoreInit(args: readonly string[], options: StoreActionOptions): Promise<StoreInitResult> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        status: { type: "boolean" },
        restore: { type: "boolean" },
        from: { type: "string" },
        reinit: { type: "boolean" },
        yes: { type: "boolean" },
        "reset-admin": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (err) {
    return { code: 2, error: `${(err as Error).message}\n\n${storeInitHelp}` };
  }
  if (values["help"]) {
    options.out(storeInitHelp);
    return { code: 0 };
  }
  const modes = (["status", "restore", "reinit", "reset-admin"] as const).filter((mode) => values[mode]);
  if (modes.length > 1) return { code: 2, error: `choose one mode, not ${modes.map((mode) => `--${mode}`).join(" and ")}` };
  const mode = modes[0] ?? "status";
  if (values["from"] !== undefined && mode !== "restore") return { code: 2, error: "--from goes with --restore" };
  if (values["yes"] && mode !== "reinit") return { code: 2, error: "--yes goes with --reinit" };
  let result: ActionResult;
  switch (mode) {
    case "status":
      result = await status(options);
      break;
    case "restore":
      result = await restore(options, values["from"] as string | undefined);
      break;
    case "reinit":
      if (!values["yes"]) {
        return { code: 2, error: "--reinit replaces the issuer's state for good (tokens signed before stop verifying); add --yes to confirm" };
      }
      result = await reinit(options);
      break;
    case "reset-admin":
      result = await resetAdmin(options);
      break;
  }
  return result;
}
