import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { editDistance, knownVariables, nearestVariable, unknownVariables } from "../src/config-variables.js";

// The list of known variables has one home; these tests read the sources so it cannot drift.

const src = fileURLToPath(new URL("../src", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

// A variable name as config*.ts write them: `read(env, "M2M_X")`, `const name = "M2M_X"`, messages naming one.
const variableLiteral = /"((?:M2M|REDIS|TLS|LOG)_[A-Z0-9_]+|PORT|HOST)"/g;
// Elsewhere, a direct read: process.env["X"] or process.env.X.
const processEnvRead = /process\.env(?:\["([A-Z0-9_]+)"\]|\.([A-Z0-9_]+))/g;

describe("knownVariables", () => {
  it("holds every variable src/config*.ts names and every process.env read in src/, and nothing else", () => {
    const read = new Set<string>();
    for (const file of sources(src)) {
      const text = readFileSync(file, "utf8");
      if (/\/config[^/]*\.ts$/.test(file) && !file.endsWith("config-variables.ts")) for (const [, name] of text.matchAll(variableLiteral)) read.add(name!);
      for (const [, a, b] of text.matchAll(processEnvRead)) read.add((a ?? b)!);
    }
    expect(read.size).toBeGreaterThan(30);
    expect([...read].filter((name) => !knownVariables.includes(name))).toEqual([]);
    // M2M_URL is the CLI's (it talks to a running service); every other entry is read by config.
    expect(knownVariables.filter((name) => !read.has(name) && name !== "M2M_URL")).toEqual([]);
    expect(new Set(knownVariables).size).toBe(knownVariables.length);
  });
});

describe("unknownVariables", () => {
  it("names the nearest known variable for a typo, and the unprefixed one for a prefixed copy", () => {
    expect(unknownVariables({ M2M_SIGNIN_ALG: "ES256" })).toEqual(["M2M_SIGNIN_ALG is not a known variable; did you mean M2M_SIGNING_ALG?"]);
    expect(unknownVariables({ M2M_KEY_ROTATION_DAY: "1", M2M_LOG_LEVEL: "debug" })).toEqual([
      "M2M_KEY_ROTATION_DAY is not a known variable; did you mean M2M_KEY_ROTATION_DAYS?",
      "M2M_LOG_LEVEL is not a known variable; did you mean LOG_LEVEL?",
    ]);
    expect(unknownVariables({ M2M_SOMETHING_ELSE_ENTIRELY: "x" })).toEqual(["M2M_SOMETHING_ELSE_ENTIRELY is not a known variable (ignored)"]);
  });

  it("leaves known variables, other prefixes and Kubernetes service links alone", () => {
    expect(
      unknownVariables({
        M2M_SIGNING_ALG: "ES256",
        REDIS_HOST: "x",
        LOG_LEVELS: "x",
        M2M_AUTH_SERVICE_HOST: "10.0.0.7",
        M2M_AUTH_SERVICE_PORT_HTTP: "8080",
        M2M_AUTH_PORT: "tcp://10.0.0.7:8080",
        M2M_AUTH_PORT_8080_TCP_ADDR: "10.0.0.7",
      }),
    ).toEqual([]);
    // Not a service link's value: a mistake.
    expect(unknownVariables({ M2M_PORT: "9000" })).toEqual(["M2M_PORT is not a known variable; did you mean PORT?"]);
  });

  it("reaches loadConfig, which also validates LOG_FORMAT", () => {
    expect(loadConfig({ M2M_SIGNIN_ALG: "ES256" }).unknownVariables).toHaveLength(1);
    expect(loadConfig({}).logFormat).toBe("json");
    expect(loadConfig({ LOG_FORMAT: "pretty" }).logFormat).toBe("pretty");
    expect(() => loadConfig({ LOG_FORMAT: "text" })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_FORMAT: "text" })).toThrow(/^LOG_FORMAT: must be one of json, pretty/);
  });

  it("measures distance with swaps of neighbours as one edit", () => {
    expect(editDistance("M2M_SINGING_ALG", "M2M_SIGNING_ALG")).toBe(1);
    expect(editDistance("abc", "abc")).toBe(0);
    expect(editDistance("", "abc")).toBe(3);
    expect(nearestVariable("M2M_ZZZZZZZZZZZZZZZZZZZZZZ")).toBeUndefined();
  });
});
