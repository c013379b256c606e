import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createAuditLog } from "../src/audit.js";

function lines(): { stream: Writable; read: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    read: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe("audit log", () => {
  it("writes one JSON line per event, audit: true, to the service log and the separate stream, without empty fields", () => {
    const main = lines();
    const separate = lines();
    const audit = createAuditLog({ logger: pino(main.stream), destination: separate.stream });
    audit.record({
      action: "DeleteOrganizationClient",
      outcome: "refused",
      actor: { clientId: "m2morg_x", organizationId: "acme", system: undefined },
      target: { organizationId: "acme", clientId: "m2morg_y" },
      code: "permission_denied",
      requestId: "r-1",
      sourceAddress: "",
    });
    for (const read of [main.read, separate.read]) {
      const [line, ...more] = read();
      expect(more).toEqual([]);
      expect(line).toMatchObject({
        audit: true,
        msg: "audit",
        action: "DeleteOrganizationClient",
        outcome: "refused",
        actor: { clientId: "m2morg_x", organizationId: "acme" },
        target: { organizationId: "acme", clientId: "m2morg_y" },
        code: "permission_denied",
        requestId: "r-1",
      });
      expect(line).not.toHaveProperty("sourceAddress");
      expect(line?.["actor"]).not.toHaveProperty("system");
    }
  });
});

describe("audit log and LOG_LEVEL", () => {
  it("keeps audit lines in a service log quieted to warn, and drops them only when it is silent", () => {
    for (const [level, expected] of [
      ["warn", 1],
      ["error", 1],
      ["silent", 0],
    ] as const) {
      const main = lines();
      const logger = pino({ level }, main.stream);
      logger.info("an ordinary info line, filtered out");
      createAuditLog({ logger }).record({ action: "RotateSigningKey", outcome: "success", actor: { system: "key-rotation-schedule" } });
      expect(main.read().length, level).toBe(expected);
    }
  });
});
