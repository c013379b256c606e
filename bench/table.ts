// Text formatting shared by the report's sections.

/** int formats a count with thousands separators. */
export const int = (n: number) => Math.round(n).toLocaleString("en-US");

/** ms formats milliseconds, two decimals below 10. */
export const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);

/** times formats a ratio as `0.93×`, or — when unknown. */
export const times = (n: number | undefined) => (n === undefined ? "—" : `${n.toFixed(2)}×`);

/** table lays out rows under a header, each column as wide as its widest cell; the first two align left. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
