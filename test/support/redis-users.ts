import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

// Which test files need the shared Redis that global-setup.ts starts. vitest.config.ts asks this
// on every run, so the split is never a list kept by hand: a test file that imports vitest's
// `inject` (the shared Redis's URL and the run's key prefix come only that way, today through
// test/support/redis.ts), itself or through its relative imports, runs in the "redis" project;
// every other file runs in "unit", where no redis-server is started.

const testFile = /\.test\.[cm]?ts$/;
// Static and dynamic relative imports, and re-exports: `from "./x.js"`, `import "./x.js"`, `import("./x.js")`.
const relativeImport = /\b(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;
// An import of vitest's inject among other names, over several lines too.
const injectImport = /\bimport\s*\{[^}]*\binject\b[^}]*\}\s*from\s*["']vitest["']/;

function listTestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : listTestFiles(path);
    return testFile.test(entry.name) ? [path] : [];
  });
}

// TypeScript sources import each other as `.js` (NodeNext); the file on disk is the `.ts` twin.
function resolveImport(from: string, specifier: string): string | undefined {
  const target = resolve(dirname(from), specifier);
  const candidates = [target.replace(/\.js$/, ".ts").replace(/\.mjs$/, ".mts"), target, `${target}.ts`];
  return candidates.find((path) => existsSync(path) && !path.endsWith(sep));
}

/**
 * sharedRedisTestFiles returns the test files under `root/testDir` (paths relative to `root`, with
 * `/`) that import vitest's `inject`, themselves or through relative imports within `root/testDir`.
 */
export function sharedRedisTestFiles(root: string, testDir = "test"): string[] {
  const scope = resolve(root, testDir);
  const parsed = new Map<string, { injects: boolean; imports: string[] }>();
  const parse = (file: string) => {
    let module = parsed.get(file);
    if (module === undefined) {
      const source = readFileSync(file, "utf8");
      const imports = [...source.matchAll(relativeImport)]
        .map((match) => resolveImport(file, match[1]!))
        // src/ never imports from test/, so only test code can lead to inject.
        .filter((target): target is string => target !== undefined && target.startsWith(scope + sep));
      module = { injects: injectImport.test(source), imports };
      parsed.set(file, module);
    }
    return module;
  };
  // A walk per test file, not a memo per module: with an import cycle, a memo would keep the
  // answer of a module read while its importer was still open.
  const reachesInject = (testFile: string): boolean => {
    const seen = new Set([testFile]);
    const pending = [testFile];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      const module = parse(file);
      if (module.injects) return true;
      for (const target of module.imports) {
        if (seen.has(target)) continue;
        seen.add(target);
        pending.push(target);
      }
    }
    return false;
  };
  return listTestFiles(scope)
    .filter(reachesInject)
    .map((file) => relative(root, file).split(sep).join("/"))
    .sort();
}
