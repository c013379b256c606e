import type { Alg } from "../scenarios/result.js";

/** ScaleOptions is what the scale group measures with; env variables override the defaults. */
export interface ScaleOptions {
  /** counts are the numbers of registered clients, one server and fresh prefix each (BENCH_SCALE_COUNTS). */
  counts: number[];
  /** alg is the server's signing algorithm (BENCH_SCALE_ALG). */
  alg: Alg;
  /** rotate is how many distinct clients the round-robin token load cycles over (BENCH_SCALE_ROTATE). */
  rotate: number;
  /** concurrency is how many registrations are in flight at once. */
  concurrency: number;
  /** pageSize is the listing's page size, the API's largest. */
  pageSize: number;
  /** listRepeats is how many times the first and the last page are each fetched (BENCH_SCALE_LIST_REPEATS). */
  listRepeats: number;
}

/** wholeNumbers reads a comma-separated list of positive integers from `name`, or returns `fallback`. */
function wholeNumbers(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const values = raw.split(",").map((part) => Number(part.trim().replace(/_/g, "")));
  if (values.some((n) => !Number.isSafeInteger(n) || n < 1))
    throw new Error(`${name} must be positive integers separated by commas, got ${JSON.stringify(raw)}`);
  return values;
}

/** loadScaleOptions reads BENCH_SCALE_COUNTS (10,10000,100000), BENCH_SCALE_ALG (ES256), BENCH_SCALE_ROTATE (1000) and BENCH_SCALE_LIST_REPEATS (50). */
export function loadScaleOptions(): ScaleOptions {
  const alg = process.env["BENCH_SCALE_ALG"] || "ES256";
  if (alg !== "ES256" && alg !== "RS256") throw new Error(`BENCH_SCALE_ALG must be ES256 or RS256, got ${JSON.stringify(alg)}`);
  const [rotate = 1000] = wholeNumbers("BENCH_SCALE_ROTATE", [1000]);
  const [listRepeats = 50] = wholeNumbers("BENCH_SCALE_LIST_REPEATS", [50]);
  return { counts: wholeNumbers("BENCH_SCALE_COUNTS", [10, 10_000, 100_000]), alg, rotate, concurrency: 64, pageSize: 100, listRepeats };
}
