import { ConfigError, loadConfig, type Config } from "../config.js";
import { UnavailableError } from "../errors.js";
import { createRedisStore } from "../store/redis-store.js";
import { runStoreInit, storeInitHelp } from "./store-init-command.js";

// `npm run store:init -- <mode>`: an operator command, run beside the service with its
// environment. Output for the operator goes to stdout (new credentials among it, once); why it
// refused goes to stderr; the exit code says which (see storeInitHelp).

const args = process.argv.slice(2);

function fail(code: number, message: string): void {
  process.stderr.write(`m2m-auth store:init: ${message}\n`);
  process.exitCode = code;
}

async function run(): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(storeInitHelp);
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, `invalid configuration: ${err.message}`);
    throw err;
  }
  if (config.redis === undefined) return fail(2, "the in-memory store lives in one process only: set REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS");
  const store = createRedisStore({ connection: config.redis, keyPrefix: config.keyPrefix });
  try {
    const result = await runStoreInit(args, {
      store,
      signingAlg: config.signingAlg,
      keyEncryptionKey: config.keyEncryptionKey,
      secretHashKey: config.secretHashKey,
      admin: config.admin,
      now: Date.now,
      out: (line) => process.stdout.write(`${line}\n`),
    });
    if (result.error !== undefined) fail(result.code, result.error);
    else process.exitCode = result.code;
  } catch (err) {
    fail(1, err instanceof UnavailableError ? "Redis is unreachable" : String((err as Error)?.message ?? err));
  } finally {
    await store.close();
  }
}

await run();
