import type { HttpRequest, HttpResponse } from "../src/http/exchange.js";
import type { OAuthRoute } from "../src/http/http-handler.js";
import type { OAuthEndpointLog } from "../src/http/oauth-endpoint.js";
import type { KeyRing } from "../src/keys/key-ring.js";
import { createMemoryStore } from "../src/store/memory-store.js";
import { observeOAuthRoute } from "../src/telemetry/http-telemetry.js";
import { createMetrics } from "../src/telemetry/metrics.js";
import { instrumentStore } from "../src/telemetry/store-telemetry.js";
import { countTokenEndpoint, traceSigning } from "../src/telemetry/token-telemetry.js";
import type { RequestOrigin } from "../src/rpc/request-origin.js";

// What telemetry adds to one token request, in CPU time, with no OpenTelemetry SDK registered (as
// shipped): each wrapper the token path goes through, timed in this process against the same
// call unwrapped, interleaved, the median of several rounds. The sum is the cost per token, to
// set against a token's CPU (bench/compare.ts, `npm run bench`). Not a test.
//
//   node --import tsx bench/telemetry-cost.ts        (BENCH_ROUNDS, default 7; BENCH_CALLS, 200000)

const rounds = Number(process.env["BENCH_ROUNDS"] ?? 7);
const calls = Number(process.env["BENCH_CALLS"] ?? 200_000);

async function timeNs(run: () => unknown): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const result = run();
    if (result instanceof Promise) await result;
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / calls;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;

/** extra returns the median extra ns per call of `wrapped` over `bare`, measured interleaved. */
async function extra(name: string, bare: () => unknown, wrapped: () => unknown): Promise<number> {
  const differences: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // Which goes first flips each round, so a drift of the machine hits both alike.
    let plain: number;
    let instrumented: number;
    if (round % 2 === 0) {
      plain = await timeNs(bare);
      instrumented = await timeNs(wrapped);
    } else {
      instrumented = await timeNs(wrapped);
      plain = await timeNs(bare);
    }
    differences.push(instrumented - plain);
  }
  const ns = median(differences);
  process.stdout.write(`${name}: +${ns.toFixed(0)} ns per call\n`);
  return ns;
}

async function main(): Promise<void> {
  const metrics = createMetrics();
  // The OAuth route frame: the span (a no-op), the context, the duration histogram.
  const req = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" } } as unknown as HttpRequest;
  const res = { statusCode: 200 } as unknown as HttpResponse;
  const origin = { requestId: "r", address: "127.0.0.1" } as unknown as RequestOrigin;
  const route: OAuthRoute = async () => undefined;
  const observed = observeOAuthRoute("/oauth/token", route, metrics);
  // The outcome line: the issued counter, the key ring's algorithm.
  const key = { alg: "ES256", kid: "k", sign: async (input: Buffer) => input } as unknown as ReturnType<KeyRing["current"]>;
  const ring = { current: () => key } as unknown as KeyRing;
  const log: OAuthEndpointLog = () => undefined;
  const counted = countTokenEndpoint(log, metrics, ring);
  const outcome = { status: 200, ms: 1, clientId: "c", grant: "client_credentials" };
  // Signing: the WeakMap lookup and the recording check around key.sign.
  const traced = traceSigning(ring);
  const input = Buffer.from("x");
  // One store read (the token path's, when the record cache misses).
  const store = createMemoryStore();
  const measured = instrumentStore(store, metrics);

  let total = 0;
  total += await extra(
    "OAuth route (span, context, histogram)",
    () => route(req, res, origin),
    () => observed(req, res, origin),
  );
  total += await extra(
    "token counter",
    () => log(outcome),
    () => counted(outcome),
  );
  total += await extra(
    "signing span check",
    () => ring.current().sign(input),
    () => traced.current().sign(input),
  );
  total += await extra(
    "store call (clients.get)",
    () => store.clients.get("m2morg_x"),
    () => measured.clients.get("m2morg_x"),
  );
  process.stdout.write(`total: ${(total / 1000).toFixed(2)} µs per token request\n`);
  await store.close();
}

await main();
