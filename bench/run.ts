import { fileURLToPath } from "node:url";
import { loadConfig } from "./config.js";
import { startLoadGenerator } from "./load.js";
import { killAllChildren } from "./processes.js";
import { deleteClaimedPrefixes, findRedis } from "./redis.js";
import { buildReport, formatReport, writeReport } from "./report.js";
import { runBaselineHttp } from "./scenarios/baseline-http.js";
import { runOidcProvider } from "./scenarios/oidc-provider.js";
import { runRawSign } from "./scenarios/raw-sign.js";
import { skippedResult, type Alg, type ScenarioResult } from "./scenarios/result.js";
import { runTokenEndpoint } from "./scenarios/token-endpoint.js";

// `npm run bench`: the project's own benchmark. Not a test: it prints a report (and writes it to
// bench/results/latest.json). Every figure is read as a ratio against baselines measured in the
// same run, since the machines are shared and noisy. Servers, signers and autocannon each run in
// a child process of their own, on 127.0.0.1 only.
//
// Environment: BENCH_DURATION (s measured per load scenario, 8), BENCH_WARMUP (s, 2),
// BENCH_CONNECTIONS (10), BENCH_SIGN_DURATION (s per raw signing run, 3), REDIS_URL (else
// 127.0.0.1:6379 if it answers; keys go under m2mbench:<random>: and are deleted), BENCH_CPU_PROF=1
// (V8 CPU profiles of our server in bench/results/profiles/).

const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));
const algs: readonly Alg[] = ["RS256", "ES256"];

/** progress reports what the bench is doing on stderr, so stdout is the report alone. */
function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** interrupted stops every child and deletes the bench's Redis keys, then exits. */
async function interrupted(signal: string): Promise<never> {
  progress(`${signal}: stopping`);
  killAllChildren();
  await Promise.race([deleteClaimedPrefixes(), new Promise((r) => setTimeout(r, 3_000))]);
  process.exit(130);
}

/** main runs every scenario in turn, then prints the report and writes it as JSON. */
async function main(): Promise<void> {
  process.on("exit", killAllChildren);
  process.once("SIGINT", () => void interrupted("SIGINT"));
  process.once("SIGTERM", () => void interrupted("SIGTERM"));

  const redisUrl = await findRedis();
  const config = loadConfig(redisUrl);
  const notes: string[] = ["our server runs with a silent pino logger, so per-request log lines cost nothing here"];
  if (!redisUrl) notes.push("no Redis (REDIS_URL unset, nothing answers on 127.0.0.1:6379): the Redis runs were skipped");
  const profileDir = config.cpuProfile ? `${resultsDir}profiles` : undefined;
  const results: ScenarioResult[] = [];

  /** step runs one scenario; a failure is recorded as skipped, with its reason, and the bench goes on. */
  const step = async (label: string, base: Omit<ScenarioResult, "perSec" | "skipped">, run: () => Promise<ScenarioResult | ScenarioResult[]>) => {
    progress(label);
    try {
      results.push(...[await run()].flat());
    } catch (err) {
      progress(`${label} failed: ${err instanceof Error ? err.message : String(err)}`);
      results.push(skippedResult(base, err));
    }
  };

  const load = await startLoadGenerator();
  try {
    await step("baseline-http (start)", { name: "baseline-http", kind: "baseline-http", variant: "start" }, () => runBaselineHttp(load, config, "start"));
    await step("raw-sign", { name: "raw-sign", kind: "raw-sign" }, () => runRawSign(config, algs));
    // What is compared runs side by side in time, so drift on a shared machine skews it least.
    for (const alg of algs) {
      const token = (store: "memory" | "redis") => {
        const base = { name: `token-endpoint-${alg.toLowerCase()}`, kind: "token-endpoint" as const, alg, variant: store };
        return step(`${base.name} (${store})`, base, () => runTokenEndpoint(load, config, { alg, store, ...(profileDir ? { profileDir } : {}) }));
      };
      await token("memory");
      const oidc = { name: `oidc-provider-${alg.toLowerCase()}`, kind: "oidc-provider" as const, alg };
      await step(oidc.name, oidc, () => runOidcProvider(load, config, alg));
      if (redisUrl) await token("redis");
    }
    await step("baseline-http (end)", { name: "baseline-http", kind: "baseline-http", variant: "end" }, () => runBaselineHttp(load, config, "end"));
  } finally {
    await load.stop();
  }

  const report = buildReport(config, results, notes);
  process.stdout.write(`${formatReport(report)}\n`);
  await writeReport(report, `${resultsDir}latest.json`);
  progress(`wrote ${resultsDir}latest.json`);
}

main().catch(async (err: unknown) => {
  progress(`failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  killAllChildren();
  await deleteClaimedPrefixes();
  process.exit(1);
});
