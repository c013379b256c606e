import autocannon from "autocannon";
import { announceReady, serveParent } from "../ipc.js";
import type { LoadRequest, LoadSample } from "../load.js";

// The load generator: autocannon in a process of its own, driven by the parent over IPC.

/** percentile reads the `p`th percentile (0..100) of ascending `sorted`. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/**
 * summarize keeps what the report needs from an autocannon result. Latencies come from the
 * response times it emits (hrtime, fractions of a ms) rather than its whole-millisecond histogram.
 */
function summarize(result: autocannon.Result, times: number[]): LoadSample {
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  const ok = statusCodes["200"] ?? 0;
  const sorted = Float64Array.from(times).sort();
  return {
    durationS: result.duration,
    total: result.requests.total,
    ok,
    okPerSec: ok / result.duration,
    reqPerSecMedian: result.requests.p50,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: times.reduce((a, b) => a + b, 0) / Math.max(times.length, 1) },
  };
}

/** run drives one autocannon run and resolves with its summary. */
async function run(request: LoadRequest): Promise<LoadSample> {
  const options: autocannon.Options = {
    url: request.url,
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
    // Requests without setupRequest are built once, up front: rotating costs autocannon nothing per request.
    ...(request.rotate
      ? {
          requests: request.rotate.map((r) => ({
            method: request.method,
            path: new URL(request.url).pathname,
            headers: r.headers,
            ...(r.body === undefined ? {} : { body: r.body }),
          })),
        }
      : {}),
    connections: request.connections,
    duration: request.durationS,
    pipelining: 1,
  };
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    // autocannon types its error `any`: anything but an Error is wrapped in one.
    const failed = (err: unknown) => reject(err instanceof Error ? err : new Error("autocannon failed", { cause: err }));
    const instance = autocannon(options, (err: unknown, done) => (err ? failed(err) : resolve(done)));
    instance.on("response", (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
  return summarize(result, times);
}

serveParent({ run: (payload) => run(payload as LoadRequest) });
announceReady();
