/** BenchConfig is what one `npm run bench` measures with; env variables override the defaults. */
export interface BenchConfig {
  /** durationS is how long each load scenario is measured, after its warm-up. */
  durationS: number;
  /** warmupS is how long each load scenario runs, unmeasured, before it is measured. */
  warmupS: number;
  /** connections is how many keep-alive connections autocannon keeps busy. */
  connections: number;
  /** signDurationS is how long each raw signing measurement lasts. */
  signDurationS: number;
  /** redisUrl is the Redis to run the Redis scenarios on, or undefined to skip them. */
  redisUrl: string | undefined;
  /** cpuProfile writes a V8 CPU profile of each token-endpoint server to bench/results/profiles. */
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

/** loadConfig reads BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_SIGN_DURATION and BENCH_CPU_PROF. */
export function loadConfig(redisUrl: string | undefined): BenchConfig {
  return {
    durationS: positive("BENCH_DURATION", 8),
    warmupS: positive("BENCH_WARMUP", 2),
    connections: Math.round(positive("BENCH_CONNECTIONS", 10)),
    signDurationS: positive("BENCH_SIGN_DURATION", 3),
    redisUrl,
    cpuProfile: process.env["BENCH_CPU_PROF"] === "1",
  };
}
