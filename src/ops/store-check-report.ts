import type { StoreCheckReport } from "./store-check.js";

// The human form of a report: one summary line, one line per finding and note, one verdict.

const count = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** formatReport renders a report as lines for a terminal; `repair` says whether repairs were asked for. */
export function formatReport(report: StoreCheckReport, repair: boolean): string[] {
  const { counts } = report;
  const lines = [
    `store:check "${report.prefix}" on ${report.masters === 1 ? "1 node" : count(report.masters, "master")}: ${count(counts.keys, "key")} — ` +
      `${count(counts.records, "record")}, ${count(counts.indexes, "organization index", "organization indexes")} (${count(counts.indexEntries, "entry", "entries")}), ` +
      `${count(counts.secretUses, "secret-use hash", "secret-use hashes")}, ${count(counts.stateValues, "state value")}`,
  ];
  for (const finding of report.findings) {
    const action =
      finding.repair === undefined
        ? "never repaired automatically"
        : `repair: ${finding.repair} — ${finding.repaired ? "done" : repair ? "not done" : "run with --repair"}`;
    lines.push(`FOUND ${finding.kind} ${finding.key}: ${finding.detail} [${action}]`);
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  const repaired = report.findings.filter((finding) => finding.repaired).length;
  if (report.findings.length === 0) lines.push("clean: no findings");
  else if (repair) lines.push(`${count(report.findings.length, "finding")}, ${repaired} repaired; check again to confirm`);
  else
    lines.push(
      `${count(report.findings.length, "finding")}; --repair fixes ${report.findings.filter((finding) => finding.repair !== undefined).length} of them`,
    );
  return lines;
}
