import { cpuTime, type CpuTime } from "./cpu.js";
import { startChild, type BenchChild } from "./processes.js";

/** LoadRequest is one autocannon run: where, what to send, how hard and how long. */
export interface LoadRequest {
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  /**
   * rotate, when set, replaces `headers` and `body`: each connection sends these in turn, from the
   * first (e.g. one client's credentials each, so no single record is read over and over).
   */
  rotate?: { headers: Record<string, string>; body?: string }[];
  connections: number;
  durationS: number;
}

/** LoadSample is what one autocannon run measured. */
export interface LoadSample {
  durationS: number;
  /** total counts every response, whatever its status. */
  total: number;
  /** ok counts the 200 responses, the only ones that count as served. */
  ok: number;
  /** okPerSec is ok / durationS. */
  okPerSec: number;
  /** reqPerSecMedian is the median of autocannon's one-second samples of responses of any status. */
  reqPerSecMedian: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  latencyMs: { p50: number; p99: number; mean: number };
  /** cpu is the CPU time the server and the load generator used in the measured run, if known. */
  cpu?: CpuUse;
}

/** CpuUse is CPU time during a measured run; 100% is one core busy the whole run. */
export interface CpuUse {
  serverPercent: number;
  loadPercent: number;
  /** serverUsPerRequest is the server's CPU time per response, in microseconds. */
  serverUsPerRequest: number;
  /** mainUsPerRequest is the part of it spent on the server's main (event loop) threads. */
  mainUsPerRequest: number;
}

/** RunOptions are the timing of one load and the processes to watch while it runs. */
export interface RunOptions {
  warmupS: number;
  durationS: number;
  /** serverPids are the server's processes, whose CPU time is measured. */
  serverPids?: readonly number[];
  /** between runs after the warm-up, right before the measured run, e.g. to snapshot counters. */
  between?: () => Promise<void>;
}

/** LoadGenerator runs autocannon in a child process of its own. */
export interface LoadGenerator {
  /** run measures one load; `warmupS` first runs the same load unmeasured. */
  run(request: Omit<LoadRequest, "durationS">, options: RunOptions): Promise<LoadSample>;
  stop(): Promise<void>;
}

/** cpuUse turns CPU time snapshots [server, load] around a measured run into shares and costs. */
function cpuUse(before: (CpuTime | undefined)[], after: (CpuTime | undefined)[], sample: LoadSample): CpuUse | undefined {
  const [s0, l0] = before;
  const [s1, l1] = after;
  if (!s0 || !s1 || !l0 || !l1) return undefined;
  const wallMs = sample.durationS * 1000;
  const responses = Math.max(sample.total, 1);
  return {
    serverPercent: ((s1.totalMs - s0.totalMs) / wallMs) * 100,
    loadPercent: ((l1.totalMs - l0.totalMs) / wallMs) * 100,
    serverUsPerRequest: ((s1.totalMs - s0.totalMs) * 1000) / responses,
    mainUsPerRequest: ((s1.mainMs - s0.mainMs) * 1000) / responses,
  };
}

/** startLoadGenerator forks the autocannon worker. */
export async function startLoadGenerator(): Promise<LoadGenerator> {
  const child: BenchChild<object> = await startChild("./workers/load.ts");
  return {
    async run(request, options) {
      const limitMs = (options.warmupS + options.durationS) * 1000 + 60_000;
      if (options.warmupS > 0) await child.request<LoadSample>("run", { ...request, durationS: options.warmupS }, limitMs);
      await options.between?.();
      const pids = options.serverPids ?? [];
      const before = [cpuTime(pids), cpuTime([child.pid])];
      const sample = await child.request<LoadSample>("run", { ...request, durationS: options.durationS }, limitMs);
      const after = [cpuTime(pids), cpuTime([child.pid])];
      if (pids.length > 0) sample.cpu = cpuUse(before, after, sample);
      return sample;
    },
    stop: () => child.stop(),
  };
}
