import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { createLogger, openLogger } from "../src/logger.js";

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

describe("log format", () => {
  it("names levels instead of numbering them", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "debug", destination });
    logger.debug("d");
    logger.warn("w");
    expect(lines.map((line) => (JSON.parse(line) as { level: unknown }).level)).toEqual(["debug", "warn"]);
  });

  async function written(stream: PassThrough, logger: import("pino").Logger): Promise<string> {
    logger.info({ clientId: "m2morg_abc", client_secret: "SECRET-pretty" }, "hello");
    await new Promise((r) => setTimeout(r, 50));
    return String(stream.read() ?? "");
  }

  it("writes pino-pretty's lines for LOG_FORMAT=pretty, still redacted", async () => {
    const stream = new PassThrough();
    const text = await written(stream, await openLogger({ level: "info", format: "pretty", destination: stream }));
    expect(text).toMatch(/INFO \(\d+\): hello/);
    expect(text).toContain('clientId: "m2morg_abc"');
    expect(text).not.toContain("SECRET-pretty");
    expect(() => JSON.parse(text.split("\n")[0]!) as unknown).toThrow();
  });

  it("falls back to JSON with one warning when pino-pretty is not installed", async () => {
    const stream = new PassThrough();
    const text = await written(stream, await openLogger({ level: "info", format: "pretty", destination: stream, prettyModule: "pino-pretty-not-installed" }));
    const lines = text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ["warn", "LOG_FORMAT=pretty needs the pino-pretty package (npm install --save-dev pino-pretty): writing JSON lines"],
      ["info", "hello"],
    ]);
  });
});
