import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// docs/architecture.md's arrows, checked on the sources: who may import whom inside src/, and no
// import circle between files.

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

// Each file's relative imports inside src/, as paths relative to src/ (".js" → ".ts").
const graph = new Map<string, string[]>();
for (const file of sources(src)) {
  const text = readFileSync(file, "utf8");
  const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)\.js"/g)].map((m) => join(dirname(file), `${m[1]}.ts`));
  graph.set(
    relative(src, file),
    imports.filter((path) => path.startsWith(src)).map((path) => relative(src, path)),
  );
}

const room = (path: string): string => (path.includes("/") ? path.slice(0, path.indexOf("/")) : path.replace(/\.ts$/, ""));
const roomsImportedBy = (name: string): Set<string> =>
  new Set([...graph].filter(([file]) => room(file) === name).flatMap(([, deps]) => deps.map(room).filter((r) => r !== name)));

describe("architecture", () => {
  it("reads every source file", () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get("server.ts")).toContain("clients/client-service.ts");
  });

  it("has no import circle between files", () => {
    const state = new Map<string, "open" | "done">();
    const circles: string[][] = [];
    const visit = (file: string, path: string[]): void => {
      state.set(file, "open");
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === "open") circles.push([...path.slice(path.indexOf(dep)), dep]);
        else if (!state.has(dep)) visit(dep, [...path, dep]);
      }
      state.set(file, "done");
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
    expect(circles).toEqual([]);
  });

  it("keeps the leaves leaves: rules.ts and errors.ts import nothing of src/, errors.ts no transport", () => {
    expect(graph.get("rules.ts")).toEqual([]);
    expect(graph.get("errors.ts")).toEqual([]);
    expect(readFileSync(join(src, "errors.ts"), "utf8")).not.toMatch(/@connectrpc|node:http/);
  });

  it("lets store/ import only errors and rules, and interceptor/ only rules", () => {
    expect([...roomsImportedBy("store")].sort()).toEqual(["errors", "rules"]);
    expect([...roomsImportedBy("interceptor")]).toEqual(["rules"]);
  });

  it("keeps cli/ a client of the public API: it starts main.ts and the store check, and imports nothing else of src/", () => {
    const imported = [...graph].filter(([file]) => room(file) === "cli").flatMap(([, deps]) => deps.filter((dep) => room(dep) !== "cli"));
    expect([...new Set(imported)].sort()).toEqual(["main.ts", "ops/store-check-main.ts"]);
  });

  it("lets only the composition (server, its options, main) import telemetry/", () => {
    const importers = new Set(
      [...graph].filter(([file, deps]) => room(file) !== "telemetry" && deps.some((d) => room(d) === "telemetry")).map(([file]) => file),
    );
    expect([...importers].sort()).toEqual(["main.ts", "server-options.ts", "server-routes.ts", "server.ts"]);
  });

  it("keeps the domain rooms free of the adapters", () => {
    for (const name of ["clients", "tokens", "keys", "store", "state"]) {
      const imported = roomsImportedBy(name);
      expect([name, ["rpc", "http", "server", "main"].filter((r) => imported.has(r))]).toEqual([name, []]);
    }
  });

  it("lets the browser console import only rules.ts of src/", () => {
    const dir = join(src, "console");
    const imported = readdirSync(dir)
      .filter((name) => /\.tsx?$/.test(name) && name !== "vite.config.ts")
      .flatMap((name) => [...readFileSync(join(dir, name), "utf8").matchAll(/from\s+"(\.{1,2}\/[^"]+)"/g)].map((m) => join(dir, m[1] as string)))
      .filter((path) => path.startsWith(src) && !path.startsWith(dir));
    expect([...new Set(imported.map((path) => relative(src, path)))]).toEqual(["rules.js"]);
  });
});
