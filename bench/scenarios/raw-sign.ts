import type { BenchConfig } from "../config.js";
import { startChild } from "../processes.js";
import type { RawSignRequest, RawSignResult } from "../workers/raw-sign.js";
import type { Alg, ScenarioResult } from "./result.js";

const modes: RawSignRequest["mode"][] = ["threadpool", "workers"];

/** runRawSign measures node:crypto signatures per second for each alg, both ways of using the cores. */
export async function runRawSign(config: BenchConfig, algs: readonly Alg[]): Promise<ScenarioResult[]> {
  const signer = await startChild<object>("./workers/raw-sign.ts");
  const results: ScenarioResult[] = [];
  try {
    for (const alg of algs) {
      for (const mode of modes) {
        const request: RawSignRequest = { alg, mode, durationS: config.signDurationS };
        const measured = await signer.request<RawSignResult>("measure", request, (config.signDurationS + 60) * 1000);
        const how = mode === "threadpool" ? `async crypto.sign, ${measured.threads} libuv threads` : `${measured.threads} worker threads, sync crypto.sign`;
        results.push({
          name: `raw-sign-${alg.toLowerCase()}`,
          kind: "raw-sign",
          alg,
          variant: mode,
          perSec: measured.perSec,
          cpuUsPerOp: measured.cpuUsPerSignature,
          notes: [how],
        });
      }
    }
  } finally {
    await signer.stop();
  }
  return results;
}
