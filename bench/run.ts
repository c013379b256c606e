import { fileURLToPath } from "node:url";
import { benchGroup, loadConfig } from "./config.js";
import { runInterceptorGroup, runTokenGroup, type Step } from "./groups.js";
import { startLoadGenerator } from "./load.js";
import { killAllChildren } from "./processes.js";
import { deleteClaimedPrefixes, findRedis } from "./redis.js";
import { buildReport, formatReport, writeReport } from "./report.js";
import { loadScaleOptions } from "./scale/options.js";
import { runScaleGroup } from "./scale/scale-run.js";
import type { ScaleReport } from "./scale/scale-report.js";
import { skippedResult, type ScenarioResult } from "./scenarios/result.js";

// `npm run bench`: the project's own benchmark. Not a test: it prints a report (and writes it to
// bench/results/latest.json). Every figure is read as a ratio against baselines measured in the
// same run, since the machines are shared and noisy. Servers, signers, verifiers and autocannon
// each run in a child process of their own, on 127.0.0.1 only. Bars are reported, never enforced.
//
// Environment: BENCH_ONLY (all | token | interceptor | scale; default all, which is token and
// interceptor: scale is left out because it registers up to 100k clients and takes minutes; see
// bench/scale/options.ts for BENCH_SCALE_COUNTS and the rest), BENCH_DURATION (s measured per
// load scenario, 8), BENCH_WARMUP (s, 2), BENCH_CONNECTIONS (10), BENCH_SIGN_DURATION (s per raw
// signing run, 3), BENCH_VERIFY_DURATION (s per cold-path verification mode and alg, 3), REDIS_URL
// (else 127.0.0.1:6379 if it answers; keys go under m2mbench:<random>: and are deleted),
// BENCH_CPU_PROF=1 (V8 CPU profiles of our servers in bench/results/profiles/).

const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));

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

/** main runs the chosen groups' scenarios in turn, then prints the report and writes it as JSON. */
async function main(): Promise<void> {
  process.on("exit", killAllChildren);
  process.once("SIGINT", () => void interrupted("SIGINT"));
  process.once("SIGTERM", () => void interrupted("SIGTERM"));

  const only = benchGroup();
  const redisUrl = only === "interceptor" ? undefined : await findRedis();
  const config = loadConfig(redisUrl);
  // Read before anything starts, so a mistyped BENCH_SCALE_* fails at once.
  const scaleOptions = only === "scale" ? loadScaleOptions() : undefined;
  const notes: string[] = [];
  if (only !== "interceptor") {
    notes.push(
      "memory and redis: our server composed in a bench child with a silent pino logger; service: dist/src/main.js as shipped (LOG_LEVEL info, stdout discarded), its record cache on (M2M_CLIENT_CACHE_MS 500)",
    );
    if (!redisUrl) notes.push("no Redis (REDIS_URL unset, nothing answers on 127.0.0.1:6379): the Redis runs were skipped");
  }
  const profileDir = config.cpuProfile ? `${resultsDir}profiles` : undefined;
  const results: ScenarioResult[] = [];

  const step: Step = async (label, base, run) => {
    progress(label);
    try {
      results.push(...[await run()].flat());
    } catch (err) {
      progress(`${label} failed: ${err instanceof Error ? err.message : String(err)}`);
      results.push(skippedResult(base, err));
    }
  };

  const load = await startLoadGenerator();
  let scale: ScaleReport | undefined;
  try {
    if (only === "all" || only === "token") await runTokenGroup(step, load, config, profileDir);
    if (only === "all" || only === "interceptor") await runInterceptorGroup(step, load, config, profileDir);
    if (scaleOptions) scale = await runScaleGroup(load, config, scaleOptions, progress);
  } finally {
    await load.stop();
  }

  const report = { ...buildReport(config, results, notes), ...(scale ? { scale } : {}) };
  process.stdout.write(`${formatReport(report)}\n`);
  await writeReport(report, `${resultsDir}latest.json`);
  progress(`wrote ${resultsDir}latest.json`);
}

main().catch(async (err: unknown) => {
  progress(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  killAllChildren();
  await deleteClaimedPrefixes();
  process.exit(1);
});
