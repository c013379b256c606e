import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.js";

// The redaction list is the second line of defence: a secret or token passed to the logger by
// mistake must not reach the log, at the top of a line or nested.

function capture(): { lines: string[]; destination: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

describe("createLogger", () => {
  it("redacts secrets and tokens at the top level, one and two objects down", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "info", destination });
    const fields = ["authorization", "client_secret", "clientSecret", "plain_secret", "plainSecret", "access_token", "token"];
    for (const [i, field] of fields.entries()) {
      const secret = `SECRET-${i}`;
      logger.info({ [field]: `${secret}-top` });
      logger.info({ a: { [field]: `${secret}-one` } });
      logger.info({ a: { b: { [field]: `${secret}-two` } } });
    }
    expect(lines).toHaveLength(fields.length * 3);
    for (const line of lines) {
      expect(line).not.toContain("SECRET-");
      expect(line).toContain('"[redacted]"');
    }
    // Other fields pass as they are.
    logger.info({ clientId: "m2morg_abc", nested: { status: 200 } });
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ clientId: "m2morg_abc", nested: { status: 200 }, service: "m2m-auth", pid: process.pid });
  });
});
