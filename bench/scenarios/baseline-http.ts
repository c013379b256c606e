import type { BenchConfig } from "../config.js";
import type { LoadGenerator } from "../load.js";
import { startChild } from "../processes.js";
import type { ScenarioResult } from "./result.js";

/** runBaselineHttp measures a plain node:http server answering 200 `{}`: the machine's ceiling now. */
export async function runBaselineHttp(load: LoadGenerator, config: BenchConfig, variant: string): Promise<ScenarioResult> {
  const server = await startChild<{ url: string }>("./servers/baseline-http.ts");
  try {
    const sample = await load.run(
      { url: `${server.ready.url}/`, method: "GET", headers: {}, connections: config.connections },
      { warmupS: config.warmupS, durationS: config.durationS, serverPids: [server.pid] },
    );
    return { name: "baseline-http", kind: "baseline-http", variant, perSec: sample.okPerSec, cpuUsPerOp: sample.cpu?.serverUsPerRequest, load: sample };
  } finally {
    await server.stop();
  }
}
