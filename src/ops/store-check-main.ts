import { adminClientStateName } from "../clients/admin-client.js";
import { secretHashKeyStateName } from "../clients/secret-hasher.js";
import { ConfigError, loadConfig, type Config } from "../config.js";
import { UnavailableError } from "../errors.js";
import { createKeyLayout } from "../store/key-layout.js";
import { createRedisConnection } from "../store/redis-connection.js";
import { issuerStateNames } from "./state-check.js";
import { checkStore } from "./store-check.js";
import { formatReport } from "./store-check-report.js";

// `npm run store:check [-- --repair] [-- --json]`: the service's configuration (same environment
// as the service, so the same Redis and prefix) → one walk → a report. Exit 0 clean, 1 findings
// (repaired or not: the damage happened), 2 bad configuration or usage, 3 the check could not run.

const usage = "usage: npm run store:check [-- [--repair] [--json]]";

function fail(code: number, message: string): never {
  process.stderr.write(`store:check: ${message}\n`);
  process.exit(code);
}

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(2, `invalid configuration: ${err.message}`);
    throw err;
  }
}

const args = process.argv.slice(2);
for (const arg of args) if (arg !== "--repair" && arg !== "--json") fail(2, `unknown argument ${arg}\n${usage}`);
const repair = args.includes("--repair");
const json = args.includes("--json");
const config = readConfig();
if (config.redis === undefined) {
  fail(
    2,
    "no Redis is configured (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): the in-memory store lives inside the server process and has nothing to check",
  );
}

const redis = createRedisConnection(config.redis);
try {
  // With the admin in the environment, the store holds no admin of its own (a stored one is checked if present).
  // A configured admin or secret-hash key (M2M_ADMIN_CLIENT_ID, M2M_SECRET_HASH_KEY) is not kept in the store.
  const configured = new Set([
    ...(config.admin === undefined ? [] : [adminClientStateName]),
    ...(config.secretHashKey === undefined ? [] : [secretHashKeyStateName]),
  ]);
  const expectedState = issuerStateNames.filter((name) => !configured.has(name));
  const report = await checkStore(redis, createKeyLayout(config.keyPrefix), { repair, expectedState });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report, repair).join("\n")}\n`);
  process.exitCode = report.findings.length === 0 ? 0 : 1;
} catch (err) {
  const reason = err instanceof UnavailableError && err.cause instanceof Error ? `Redis is unreachable (${err.cause.message})` : String(err);
  process.stderr.write(`store:check: the check could not run: ${reason}\n`);
  process.exitCode = 3;
} finally {
  redis.disconnect();
}
