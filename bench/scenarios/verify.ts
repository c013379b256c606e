import type { TokenKit } from "../access-tokens.js";
import type { BenchConfig } from "../config.js";
import { startChild, type BenchChild } from "../processes.js";
import type { VerifyRequest, VerifyResult } from "../workers/verify.js";
import type { ScenarioResult } from "./result.js";

// Enough verifications in flight to keep libuv's pool (where WebCrypto verifies) busy.
const concurrency = Math.max(32, 4 * Number(process.env["UV_THREADPOOL_SIZE"] ?? 4));

// A-B-B-A twice, in quarters: drift on a shared machine weighs on both modes alike.
const order: VerifyRequest["mode"][] = ["jwtVerify", "verifier", "verifier", "jwtVerify", "jwtVerify", "verifier", "verifier", "jwtVerify"];

/**
 * runVerify measures cold-path verifications per second for each kit's alg, the verifier and raw
 * jwtVerify alike. Each mode runs in a worker process of its own, taking turns: in one process,
 * the JIT's feedback from one mode's calls into jose slows the other's and skews the ratio.
 */
export async function runVerify(config: BenchConfig, kits: readonly TokenKit[]): Promise<ScenarioResult[]> {
  const workers = new Map<VerifyRequest["mode"], BenchChild<object>>();
  const results: ScenarioResult[] = [];
  try {
    for (const mode of new Set(order)) workers.set(mode, await startChild<object>("./workers/verify.ts"));
    for (const kit of kits) {
      const totals = new Map<VerifyRequest["mode"], VerifyResult>();
      for (const mode of order) {
        const request: VerifyRequest = { kit, mode, durationS: (config.verifyDurationS * 2) / order.length, concurrency };
        const r = await (workers.get(mode) as BenchChild<object>).request<VerifyResult>("measure", request, (config.verifyDurationS + 60) * 1000);
        const sum = totals.get(mode) ?? { verifications: 0, durationS: 0, cpuMs: 0 };
        totals.set(mode, { verifications: sum.verifications + r.verifications, durationS: sum.durationS + r.durationS, cpuMs: sum.cpuMs + r.cpuMs });
      }
      for (const [mode, t] of totals) {
        const how = mode === "verifier" ? "createTokenVerifier({ tokenCache: false }).verify" : "jose jwtVerify, key imported once";
        results.push({
          name: `verify-${kit.alg.toLowerCase()}`,
          kind: "verify",
          alg: kit.alg,
          variant: mode,
          perSec: t.verifications / t.durationS,
          cpuUsPerOp: (t.cpuMs * 1000) / Math.max(t.verifications, 1),
          notes: [`${how}, ${concurrency} in flight`],
        });
      }
    }
  } finally {
    await Promise.all([...workers.values()].map((w) => w.stop()));
  }
  return results;
}
