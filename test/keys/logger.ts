/** LogLine is one call of a recording logger: its level and arguments. */
export interface LogLine {
  level: "info" | "warn";
  args: unknown[];
}

/** RecordingLogger keeps every line logged through it. */
export interface RecordingLogger {
  lines: LogLine[];
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
}

/** recordingLogger is the key ring's logger in tests. */
export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (...args) => void lines.push({ level: "info", args }),
    warn: (...args) => void lines.push({ level: "warn", args }),
  };
}

/** logged counts the lines of `level` whose arguments match `pattern`. */
export function logged(logger: RecordingLogger, level: LogLine["level"], pattern: RegExp): number {
  return logger.lines.filter((l) => l.level === level && pattern.test(JSON.stringify(l.args))).length;
}
