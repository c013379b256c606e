import type { VerifyAlg } from "./access-tokens.js";
import type { ScenarioResult } from "./scenarios/result.js";
import { REVOKED_LISTED, type RpcVariant } from "./servers/rpc-variants.js";
import { int, ms, table, times } from "./table.js";

/** INTERCEPTOR_BAR is the issue's bar: with a warm token cache, ≥ 0.85 of the unguarded throughput. */
export const INTERCEPTOR_BAR = 0.85;

/** RpcSummary is one rpc-service variant over its runs, against `none` in the same bench run. */
export interface RpcSummary {
  variant: RpcVariant;
  runs: number;
  /** perSec is the mean of the runs' 200/s. */
  perSec: number;
  vsNone?: number;
  /** cpuUsPerRequest is the mean server CPU per response, every thread, in µs. */
  cpuUsPerRequest?: number;
  /** cpuVsNone is none's CPU per response ÷ this one's: the throughput ratio if the server alone were the limit. */
  cpuVsNone?: number;
  p50Ms: number;
  p99Ms: number;
}

/** VerifySummary is one alg's cold-path verifications per second, the verifier against raw jwtVerify. */
export interface VerifySummary {
  alg: VerifyAlg;
  verifierPerSec: number;
  jwtVerifyPerSec: number;
  vsJwtVerify: number;
  verifierCpuUs?: number;
  jwtVerifyCpuUs?: number;
}

/** BarCheck is one line of the verdict: a ratio, and the bar it must reach if it has one. */
export interface BarCheck {
  name: string;
  value?: number;
  min?: number;
  /** pass is set only for a check with a bar; undefined when the ratio could not be measured. */
  pass?: boolean;
  note: string;
}

/** InterceptorReport is the interceptor group's part of the report. */
export interface InterceptorReport {
  nonePerSec: number;
  rpc: RpcSummary[];
  verify: VerifySummary[];
  checks: BarCheck[];
}

const measured = (r: ScenarioResult) => r.skipped === undefined && r.perSec > 0;
const mean = (values: number[]) => (values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length);

/** summarizeRpc averages the measured runs of `variant`. */
function summarizeRpc(runs: ScenarioResult[], variant: RpcVariant): Omit<RpcSummary, "vsNone" | "cpuVsNone"> | undefined {
  const mine = runs.filter((r) => r.variant === variant);
  const perSec = mean(mine.map((r) => r.perSec));
  if (perSec === undefined) return undefined;
  const cpu = mean(mine.flatMap((r) => (r.cpuUsPerOp === undefined ? [] : [r.cpuUsPerOp])));
  return {
    variant,
    runs: mine.length,
    perSec,
    ...(cpu === undefined ? {} : { cpuUsPerRequest: cpu }),
    p50Ms: mean(mine.map((r) => r.load?.latencyMs.p50 ?? 0)) ?? 0,
    p99Ms: mean(mine.map((r) => r.load?.latencyMs.p99 ?? 0)) ?? 0,
  };
}

/** buildInterceptorReport computes the interceptor group's ratios, or undefined when it did not run. */
export function buildInterceptorReport(scenarios: ScenarioResult[], notes: string[]): InterceptorReport | undefined {
  const runs = scenarios.filter((r) => r.kind === "rpc-service" && measured(r));
  const verifies = scenarios.filter((r) => r.kind === "verify" && measured(r));
  if (!scenarios.some((r) => r.kind === "rpc-service" || r.kind === "verify")) return undefined;
  const none = summarizeRpc(runs, "none");
  const rpc: RpcSummary[] = [];
  for (const variant of ["none", "interceptor", "interceptor-revocation", "naive", "interceptor-nocache"] as const) {
    const s = summarizeRpc(runs, variant);
    if (!s) continue;
    const cpuVsNone = none?.cpuUsPerRequest && s.cpuUsPerRequest ? none.cpuUsPerRequest / s.cpuUsPerRequest : undefined;
    rpc.push({ ...s, ...(none ? { vsNone: s.perSec / none.perSec } : {}), ...(cpuVsNone === undefined ? {} : { cpuVsNone }) });
  }
  const verify: VerifySummary[] = [];
  for (const alg of [...new Set(verifies.map((r) => r.alg as VerifyAlg))]) {
    const verifier = verifies.find((r) => r.alg === alg && r.variant === "verifier");
    const raw = verifies.find((r) => r.alg === alg && r.variant === "jwtVerify");
    if (!verifier || !raw) continue;
    verify.push({
      alg,
      verifierPerSec: verifier.perSec,
      jwtVerifyPerSec: raw.perSec,
      vsJwtVerify: verifier.perSec / raw.perSec,
      verifierCpuUs: verifier.cpuUsPerOp,
      jwtVerifyCpuUs: raw.cpuUsPerOp,
    });
  }
  const ratio = (variant: RpcVariant) => rpc.find((r) => r.variant === variant)?.vsNone;
  const relative = (variant: RpcVariant, to: RpcVariant) => {
    const [a, b] = [rpc.find((r) => r.variant === variant)?.perSec, rpc.find((r) => r.variant === to)?.perSec];
    return a === undefined || b === undefined ? undefined : a / b;
  };
  const warm = ratio("interceptor");
  const checks: BarCheck[] = [
    {
      name: "interceptor ÷ none (warm token cache)",
      value: warm,
      min: INTERCEPTOR_BAR,
      ...(warm === undefined ? {} : { pass: warm >= INTERCEPTOR_BAR }),
      note: "the issue's bar",
    },
    {
      name: `interceptor-revocation ÷ interceptor (revocation check on, ${REVOKED_LISTED} jtis listed)`,
      value: relative("interceptor-revocation", "interceptor"),
      note: "no bar; the check's cost: a Set lookup per call, a fetch per 5 s",
    },
    { name: "naive ÷ none (jwtVerify per call)", value: ratio("naive"), note: "reference: the issue measured about 0.2" },
    { name: "interceptor-nocache ÷ none (cold path end to end)", value: ratio("interceptor-nocache"), note: "no bar; every call verifies" },
    ...verify.map((v) => ({
      name: `verifier ÷ jwtVerify, ${v.alg} (cold path in process)`,
      value: v.vsJwtVerify,
      note: "no bar; 1.00× = no overhead over jose",
    })),
  ];
  const noneRuns = runs.filter((r) => r.variant === "none");
  if (noneRuns.length === 2) {
    const [first, last] = noneRuns as [ScenarioResult, ScenarioResult];
    notes.push(`rpc-service none drifted ${(((last.perSec - first.perSec) / first.perSec) * 100).toFixed(1)}% between its first and last run`);
  }
  for (const r of noneRuns) {
    const loadPercent = r.load?.cpu?.loadPercent ?? 0;
    if (loadPercent > 85)
      notes.push(
        `rpc-service none may be bounded by the load generator (autocannon used ${loadPercent.toFixed(0)}% of a core): ÷ none then understates overhead; see CPU ratio`,
      );
  }
  return { nonePerSec: none?.perSec ?? 0, rpc, verify, checks };
}

/** formatRuns lays out every rpc-service run as measured. */
function formatRuns(scenarios: ScenarioResult[]): string {
  const rows = scenarios
    .filter((r) => r.kind === "rpc-service")
    .map((r) => {
      const l = r.load;
      if (r.skipped !== undefined || !l) return [r.variant ?? "", "skipped", "", "", "", "", "", "", "", "", ""];
      const cpu = l.cpu
        ? [`${l.cpu.serverPercent.toFixed(0)}%`, `${l.cpu.loadPercent.toFixed(0)}%`, `${int(l.cpu.serverUsPerRequest)} (${int(l.cpu.mainUsPerRequest)})`]
        : ["—", "—", "—"];
      return [
        r.variant ?? "",
        r.alg ?? "",
        int(l.reqPerSecMedian),
        int(l.okPerSec),
        ms(l.latencyMs.p50),
        ms(l.latencyMs.p99),
        int(l.non2xx),
        int(l.errors + l.timeouts),
        ...cpu,
      ];
    });
  return table(
    ["rpc-service run", "alg", "req/s (median)", "200/s", "p50 ms", "p99 ms", "non-2xx", "errors", "server CPU", "load CPU", "server µs/req (loop)"],
    rows,
  );
}

/** formatInterceptorReport renders the interceptor group's section of the printed report. */
export function formatInterceptorReport(report: InterceptorReport, scenarios: ScenarioResult[]): string {
  const rpcRows = report.rpc.map((r) => [
    r.variant,
    String(r.runs),
    int(r.perSec),
    times(r.vsNone),
    ms(r.p50Ms),
    ms(r.p99Ms),
    r.cpuUsPerRequest === undefined ? "—" : int(r.cpuUsPerRequest),
    times(r.cpuVsNone),
  ]);
  const verifyRows = report.verify.map((v) => [
    v.alg,
    "",
    int(v.verifierPerSec),
    int(v.jwtVerifyPerSec),
    times(v.vsJwtVerify),
    v.verifierCpuUs === undefined ? "—" : int(v.verifierCpuUs),
    v.jwtVerifyCpuUs === undefined ? "—" : int(v.jwtVerifyCpuUs),
  ]);
  const verdict = report.checks.map((c) => {
    const value = c.value === undefined ? "not measured" : times(c.value);
    const status = c.min === undefined ? "INFO" : c.pass === undefined ? "N/A " : c.pass ? "PASS" : "FAIL";
    return `${status}  ${c.name}: ${value}${c.min === undefined ? "" : ` (bar ≥ ${c.min.toFixed(2)})`} — ${c.note}`;
  });
  return [
    "Interceptor: POST /example.v1.DeploymentService/ListDeployments (Connect, JSON, HTTP/1.1; requires read:deployments), one bearer token for every call",
    formatRuns(scenarios),
    "(CPU: 100% = one core busy the whole measured run; µs/req = server CPU time / responses, in () its event-loop thread alone)",
    "",
    `By variant (mean of runs), against none = ${int(report.nonePerSec)} 200/s; CPU ratio = none's server µs/req ÷ the variant's (the throughput ratio if the server alone were the limit):`,
    table(["variant", "runs", "200/s", "÷ none", "p50 ms", "p99 ms", "server µs/req", "CPU ratio"], rpcRows),
    "",
    "Cold-path verifications/s in process (token cache off), against jose jwtVerify with the key imported once:",
    table(["alg", "", "verifier /s", "jwtVerify /s", "÷ jwtVerify", "verifier µs CPU/op", "jwtVerify µs CPU/op"], verifyRows),
    "",
    ...verdict,
  ].join("\n");
}
