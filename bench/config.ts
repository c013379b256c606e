/**
 * BenchGroup picks what `npm run bench` runs: the token service, the interceptor, both ("all"),
 * or the scale curve, which "all" leaves out because it registers 100k clients and takes minutes.
 */
export type BenchGroup = "all" | "token" | "interceptor" | "scale";

/** BenchConfig is what one `npm run bench` measures with; env variables override the defaults. */
export interface BenchConfig {
  /** only is the group of scenarios to run (BENCH_ONLY); "all" runs token and interceptor. */
  only: BenchGroup;
  /** durationS is how long each load scenario is measured, after its warm-up. */
  durationS: number;
  /** warmupS is how long each load scenario runs, unmeasured, before it is measured. */
  warmupS: number;
  /** connections is how many keep-alive connections autocannon keeps busy. */
  connections: number;
  /** signDurationS is how long each raw signing measurement lasts. */
  signDurationS: number;
  /** verifyDurationS is how long each cold-path verification measurement lasts, per alg and mode. */
  verifyDurationS: number;
  /** redisUrl is the Redis to run the Redis scenarios on, or undefined to skip them. */
  redisUrl: string | undefined;
  /** cpuProfile writes V8 CPU profiles of each token-endpoint and rpc-service server to bench/results/profiles. */
  cpuProfile: boolean;
}

/** positive reads a positive number from the environment variable `name`, or returns `fallback`. */
function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

const groups: readonly BenchGroup[] = ["all", "token", "interceptor", "scale"];

/** benchGroup reads BENCH_ONLY: all (the default), token, interceptor or scale. */
export function benchGroup(): BenchGroup {
  const raw = process.env["BENCH_ONLY"] || "all";
  if (!groups.includes(raw as BenchGroup)) throw new Error(`BENCH_ONLY must be one of ${groups.join(", ")}, got ${JSON.stringify(raw)}`);
  return raw as BenchGroup;
}

/**
 * loadConfig reads BENCH_ONLY, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_SIGN_DURATION,
 * BENCH_VERIFY_DURATION and BENCH_CPU_PROF.
 */
export function loadConfig(redisUrl: string | undefined): BenchConfig {
  return {
    only: benchGroup(),
    durationS: positive("BENCH_DURATION", 8),
    warmupS: positive("BENCH_WARMUP", 2),
    connections: Math.round(positive("BENCH_CONNECTIONS", 10)),
    signDurationS: positive("BENCH_SIGN_DURATION", 3),
    verifyDurationS: positive("BENCH_VERIFY_DURATION", 3),
    redisUrl,
    cpuProfile: process.env["BENCH_CPU_PROF"] === "1",
  };
}
