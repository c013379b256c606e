import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import type { BenchConfig } from "./config.js";
import type { Alg, ScenarioResult } from "./scenarios/result.js";

/** Ratio compares one token-issuing run with the baselines measured in the same bench run. */
export interface Ratio {
  name: string;
  variant?: string;
  alg: Alg;
  perSec: number;
  /** vsRawSign divides by the better of the two raw signing modes for the same alg. */
  vsRawSign?: number;
  vsOidcProvider?: number;
  /** vsBaseline divides by the mean of the baseline-http runs. */
  vsBaseline?: number;
  /** cpuVsRawSign divides the server's CPU time per token by raw signing's CPU time per signature. */
  cpuVsRawSign?: number;
  /** cpuVsOidcProvider divides the server's CPU time per token by node-oidc-provider's. */
  cpuVsOidcProvider?: number;
  redisCommandsPerRequest?: { client: number; server: number };
}

/** Report is what `npm run bench` prints and writes to bench/results/latest.json. */
export interface Report {
  generatedAt: string;
  machine: { node: string; cores: number; cpu: string; loadavg1m: number };
  config: BenchConfig;
  baselinePerSec: number;
  scenarios: ScenarioResult[];
  ratios: Ratio[];
  notes: string[];
}

const measured = (r: ScenarioResult) => r.skipped === undefined && r.perSec > 0;

/** bestRawSign is the faster raw signing mode for `alg`, or undefined if none was measured. */
function bestRawSign(scenarios: ScenarioResult[], alg: Alg): ScenarioResult | undefined {
  return scenarios.filter((r) => r.kind === "raw-sign" && r.alg === alg && measured(r)).sort((a, b) => b.perSec - a.perSec)[0];
}

/** buildReport computes the ratios of every token-issuing scenario against the same run's baselines. */
export function buildReport(config: BenchConfig, scenarios: ScenarioResult[], notes: string[]): Report {
  const baselines = scenarios.filter((r) => r.kind === "baseline-http" && measured(r));
  const baselinePerSec = baselines.reduce((sum, r) => sum + r.perSec, 0) / Math.max(baselines.length, 1);
  const ratios: Ratio[] = [];
  for (const r of scenarios.filter((s) => (s.kind === "token-endpoint" || s.kind === "oidc-provider") && measured(s))) {
    const alg = r.alg as Alg;
    const raw = bestRawSign(scenarios, alg);
    const oidc = scenarios.find((s) => s.kind === "oidc-provider" && s.alg === alg && measured(s));
    const ratio: Ratio = { name: r.name, alg, perSec: r.perSec, ...(r.variant ? { variant: r.variant } : {}) };
    if (raw) ratio.vsRawSign = r.perSec / raw.perSec;
    if (oidc && r.kind === "token-endpoint") ratio.vsOidcProvider = r.perSec / oidc.perSec;
    if (baselinePerSec > 0) ratio.vsBaseline = r.perSec / baselinePerSec;
    const rawCpu = Math.min(...scenarios.filter((x) => x.kind === "raw-sign" && x.alg === alg && x.cpuUsPerOp).map((x) => x.cpuUsPerOp as number));
    if (r.cpuUsPerOp && Number.isFinite(rawCpu)) ratio.cpuVsRawSign = r.cpuUsPerOp / rawCpu;
    if (r.cpuUsPerOp && oidc?.cpuUsPerOp && r.kind === "token-endpoint") ratio.cpuVsOidcProvider = r.cpuUsPerOp / oidc.cpuUsPerOp;
    if (r.redis) ratio.redisCommandsPerRequest = { client: r.redis.perRequestClient, server: r.redis.perRequestServer };
    ratios.push(ratio);
  }
  for (const r of scenarios) {
    const l = r.load;
    if (l && (l.non2xx > 0 || l.errors > 0 || l.timeouts > 0)) {
      notes.push(`WARNING ${r.name}${r.variant ? ` (${r.variant})` : ""}: ${l.non2xx} non-2xx, ${l.errors} errors, ${l.timeouts} timeouts; status codes ${JSON.stringify(l.statusCodes)}`);
    }
  }
  for (const r of baselines) {
    const loadPercent = r.load?.cpu?.loadPercent ?? 0;
    if (loadPercent > 85) notes.push(`baseline-http (${r.variant}) is bounded by the load generator: autocannon used ${loadPercent.toFixed(0)}% of a core`);
  }
  if (baselines.length === 2) {
    const [first, last] = baselines as [ScenarioResult, ScenarioResult];
    notes.push(`baseline-http drifted ${(((last.perSec - first.perSec) / first.perSec) * 100).toFixed(1)}% between the start and the end of the run`);
  }
  return {
    generatedAt: new Date().toISOString(),
    machine: { node: process.version, cores: availableParallelism(), cpu: cpus()[0]?.model ?? "unknown", loadavg1m: loadavg()[0] ?? 0 },
    config: { ...config, redisUrl: config.redisUrl === undefined ? undefined : config.redisUrl.replace(/\/\/[^@/]*@/, "//***@") },
    baselinePerSec,
    scenarios,
    ratios,
    notes,
  };
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);
const times = (n: number | undefined) => (n === undefined ? "—" : `${n.toFixed(2)}×`);

/** table lays out rows under a header, each column as wide as its widest cell. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** formatReport renders the report as the text `npm run bench` prints. */
export function formatReport(report: Report): string {
  const { config, machine } = report;
  const rows = report.scenarios.map((r) => {
    const label = [r.variant, r.kind === "raw-sign" ? "sig/s" : undefined].filter(Boolean).join(" ");
    if (r.skipped !== undefined) return [r.name, label, "skipped", "", "", "", "", "", "", "", ""];
    const l = r.load;
    if (!l) return [r.name, label, "—", int(r.perSec), "—", "—", "—", "—", "—", "—", r.cpuUsPerOp === undefined ? "—" : `${int(r.cpuUsPerOp)} /sig`];
    const cpu = l.cpu ? [`${l.cpu.serverPercent.toFixed(0)}%`, `${l.cpu.loadPercent.toFixed(0)}%`, `${int(l.cpu.serverUsPerRequest)} (${int(l.cpu.mainUsPerRequest)})`] : ["—", "—", "—"];
    return [r.name, label, int(l.reqPerSecMedian), int(l.okPerSec), ms(l.latencyMs.p50), ms(l.latencyMs.p99), int(l.non2xx), int(l.errors + l.timeouts), ...cpu];
  });
  const ratioRows = report.ratios.map((r) => [
    r.name,
    r.variant ?? "",
    int(r.perSec),
    times(r.vsRawSign),
    times(r.vsOidcProvider),
    times(r.vsBaseline),
    times(r.cpuVsRawSign),
    times(r.cpuVsOidcProvider),
    r.redisCommandsPerRequest ? `${r.redisCommandsPerRequest.client.toFixed(2)} / ${r.redisCommandsPerRequest.server.toFixed(2)}` : "—",
  ]);
  const skipped = report.scenarios.filter((r) => r.skipped !== undefined).map((r) => `${r.name}${r.variant ? ` (${r.variant})` : ""} skipped: ${r.skipped}`);
  const scenarioNotes = report.scenarios.filter((r) => r.notes?.length).map((r) => `${r.name}${r.variant ? ` (${r.variant})` : ""}: ${r.notes?.join("; ")}`);
  return [
    `m2m-auth bench — ${report.generatedAt} — Node ${machine.node}, ${machine.cores} cores (${machine.cpu}), load ${machine.loadavg1m.toFixed(2)}`,
    `autocannon: ${config.connections} connections, ${config.warmupS} s warm-up + ${config.durationS} s measured per scenario; raw signing ${config.signDurationS} s; loopback only`,
    "",
    table(["scenario", "variant", "req/s (median)", "200/s", "p50 ms", "p99 ms", "non-2xx", "errors", "server CPU", "load CPU", "server µs/req (loop)"], rows),
    "(CPU: 100% = one core busy the whole measured run; µs/req = server CPU time / responses, in () its event-loop thread(s) alone)",
    "",
    `Ratios of 200/s to the same run's baselines (raw-sign: its faster mode; baseline-http: ${int(report.baselinePerSec)} req/s, the mean),`,
    "and of server CPU per token to raw signing's CPU per signature and to oidc-provider's CPU per token (less is better):",
    table(["scenario", "store", "200/s", "÷ raw-sign", "÷ oidc-provider", "÷ baseline-http", "CPU ÷ raw sig", "CPU ÷ oidc", "Redis cmds/req (ours / all)"], ratioRows),
    "",
    ...[...skipped, ...scenarioNotes, ...report.notes].map((note) => `- ${note}`),
  ].join("\n");
}

/** writeReport writes the report as JSON to `path`, making its folder if needed. */
export async function writeReport(report: Report, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}
