import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import type { BenchConfig } from "./config.js";
import { buildInterceptorReport, formatInterceptorReport, type InterceptorReport } from "./interceptor-report.js";
import { formatScaleSection, type ScaleReport } from "./scale/scale-report.js";
import { TOKEN_KINDS, type Alg, type ScenarioResult } from "./scenarios/result.js";
import { int, ms, table, times } from "./table.js";

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
  /** ratios are the token-service group's; empty when it did not run. */
  ratios: Ratio[];
  /** interceptor is the interceptor group's summary and bars; absent when it did not run. */
  interceptor?: InterceptorReport;
  /** scale is the scale curve (BENCH_ONLY=scale); absent when it did not run. */
  scale?: ScaleReport;
  notes: string[];
}

// A count the run could not take (the production process's own client is not instrumented) shows as a dash.
const fixed = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : "—");

const measured = (r: ScenarioResult) => r.skipped === undefined && r.perSec > 0;

/** bestRawSign is the faster raw signing mode for `alg`, or undefined if none was measured. */
function bestRawSign(scenarios: ScenarioResult[], alg: Alg): ScenarioResult | undefined {
  return scenarios.filter((r) => r.kind === "raw-sign" && r.alg === alg && measured(r)).sort((a, b) => b.perSec - a.perSec)[0];
}

/** buildReport computes the ratios of every token-issuing scenario and of the interceptor runs against the same run's baselines. */
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
      notes.push(
        `WARNING ${r.name}${r.variant ? ` (${r.variant})` : ""}: ${l.non2xx} non-2xx, ${l.errors} errors, ${l.timeouts} timeouts; status codes ${JSON.stringify(l.statusCodes)}`,
      );
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
  const interceptor = buildInterceptorReport(scenarios, notes);
  return {
    generatedAt: new Date().toISOString(),
    machine: { node: process.version, cores: availableParallelism(), cpu: cpus()[0]?.model ?? "unknown", loadavg1m: loadavg()[0] ?? 0 },
    config: { ...config, redisUrl: config.redisUrl === undefined ? undefined : config.redisUrl.replace(/\/\/[^@/]*@/, "//***@") },
    baselinePerSec,
    scenarios,
    ratios,
    ...(interceptor ? { interceptor } : {}),
    notes,
  };
}

/** formatTokenSection renders the token-service group's tables. */
function formatTokenSection(report: Report): string[] {
  const rows = report.scenarios
    .filter((r) => TOKEN_KINDS.includes(r.kind))
    .map((r) => {
      const label = [r.variant, r.kind === "raw-sign" ? "sig/s" : undefined].filter(Boolean).join(" ");
      if (r.skipped !== undefined) return [r.name, label, "skipped", "", "", "", "", "", "", "", ""];
      const l = r.load;
      if (!l) return [r.name, label, "—", int(r.perSec), "—", "—", "—", "—", "—", "—", r.cpuUsPerOp === undefined ? "—" : `${int(r.cpuUsPerOp)} /sig`];
      const cpu = l.cpu
        ? [`${l.cpu.serverPercent.toFixed(0)}%`, `${l.cpu.loadPercent.toFixed(0)}%`, `${int(l.cpu.serverUsPerRequest)} (${int(l.cpu.mainUsPerRequest)})`]
        : ["—", "—", "—"];
      return [
        r.name,
        label,
        int(l.reqPerSecMedian),
        int(l.okPerSec),
        ms(l.latencyMs.p50),
        ms(l.latencyMs.p99),
        int(l.non2xx),
        int(l.errors + l.timeouts),
        ...cpu,
      ];
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
    r.redisCommandsPerRequest ? `${fixed(r.redisCommandsPerRequest.client)} / ${fixed(r.redisCommandsPerRequest.server)}` : "—",
  ]);
  return [
    table(["scenario", "variant", "req/s (median)", "200/s", "p50 ms", "p99 ms", "non-2xx", "errors", "server CPU", "load CPU", "server µs/req (loop)"], rows),
    "(CPU: 100% = one core busy the whole measured run; µs/req = server CPU time / responses, in () its event-loop thread(s) alone)",
    "",
    `Ratios of 200/s to the same run's baselines (raw-sign: its faster mode; baseline-http: ${int(report.baselinePerSec)} req/s, the mean),`,
    "and of server CPU per token to raw signing's CPU per signature and to oidc-provider's CPU per token (less is better):",
    table(
      ["scenario", "store", "200/s", "÷ raw-sign", "÷ oidc-provider", "÷ baseline-http", "CPU ÷ raw sig", "CPU ÷ oidc", "Redis cmds/req (ours / all)"],
      ratioRows,
    ),
    "",
  ];
}

/** formatReport renders the report as the text `npm run bench` prints: each group that ran, then the notes. */
export function formatReport(report: Report): string {
  const { config, machine } = report;
  const label = (r: ScenarioResult) => `${r.name}${r.variant ? ` (${r.variant})` : ""}`;
  const skipped = report.scenarios.filter((r) => r.skipped !== undefined).map((r) => `${label(r)} skipped: ${r.skipped}`);
  const scenarioNotes = report.scenarios.filter((r) => r.notes?.length).map((r) => `${label(r)}: ${r.notes?.join("; ")}`);
  const hasTokenGroup = report.scenarios.some((r) => TOKEN_KINDS.includes(r.kind));
  return [
    `m2m-auth bench — ${report.generatedAt} — Node ${machine.node}, ${machine.cores} cores (${machine.cpu}), load ${machine.loadavg1m.toFixed(2)}`,
    `BENCH_ONLY=${config.only}; autocannon: ${config.connections} connections, ${config.warmupS} s warm-up + ${config.durationS} s measured per scenario; raw signing ${config.signDurationS} s; cold-path verification ${config.verifyDurationS} s per alg and mode; loopback only`,
    "",
    ...(hasTokenGroup ? formatTokenSection(report) : []),
    ...(report.interceptor ? [formatInterceptorReport(report.interceptor, report.scenarios), ""] : []),
    ...(report.scale ? formatScaleSection(report.scale) : []),
    ...[...skipped, ...[...new Set(scenarioNotes)], ...report.notes].map((note) => `- ${note}`),
  ].join("\n");
}

/** writeReport writes the report as JSON to `path`, making its folder if needed. */
export async function writeReport(report: Report, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}
