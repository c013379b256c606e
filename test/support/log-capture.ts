import { pino, type Logger } from "pino";

/** CapturedLog is a real pino logger whose JSON lines are kept for assertions. */
export interface CapturedLog {
  logger: Logger;
  lines: { level: number; msg: string; [field: string]: unknown }[];
  /** count counts the lines at `level` (pino's name) whose message matches `pattern`. */
  count(level: "error" | "warn" | "info", pattern: RegExp): number;
}

const levels = { error: 50, warn: 40, info: 30 } as const;

/** captureLog returns a logger at `info` that records every line it writes. */
export function captureLog(): CapturedLog {
  const lines: CapturedLog["lines"] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as CapturedLog["lines"][number]) });
  return {
    logger,
    lines,
    count: (level, pattern) => lines.filter((line) => line.level === levels[level] && pattern.test(line.msg)).length,
  };
}
