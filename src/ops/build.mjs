// `npm run build` (node src/ops/build.mjs): dist/ from scratch, then a stamp of what it was built
// from. `--if-stale` (npm start, npm run store:*) builds only when the stamp no longer matches, so
// a restart costs a node start, not a tsc run (~14 s here).
//
// The stamp lists every input file with its size and mtime, taken *before* compiling: a file
// added, removed, edited, or checked out with an older mtime all change the listing, and an edit
// made while tsc runs is seen by the next start. Plain JavaScript: it runs before dist/ exists.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");
/** What dist/ is compiled from (tsconfig.build.json's include, and the configs themselves). */
const inputs = ["src", "gen", "tsconfig.json", "tsconfig.build.json"];
const stampFile = join(root, "dist", ".build-stamp");

function listing() {
  const lines = [];
  const visit = (path) => {
    const stat = statSync(join(root, path));
    if (stat.isDirectory()) for (const name of readdirSync(join(root, path)).sort()) visit(join(path, name));
    else lines.push(`${path} ${stat.size} ${stat.mtimeMs}`);
  };
  for (const input of inputs) if (existsSync(join(root, input))) visit(input);
  return lines.join("\n");
}

const ifStale = process.argv.includes("--if-stale");
const before = listing();
if (ifStale && existsSync(stampFile) && readFileSync(stampFile, "utf8") === before) process.exit(0);
if (ifStale) process.stderr.write("m2m-auth: the sources changed since dist/ was built: building (npm run build)\n");

rmSync(join(root, "dist"), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
// The console (src/console, Preact bundled by Vite into dist/console) is part of the build: it is
// served by the service and shipped in the package. Its sources are under src/, so the stamp
// covers them.
const consoleConfig = join(root, "src", "console", "vite.config.ts");
if (existsSync(consoleConfig)) {
  const vite = spawnSync(process.execPath, [join(root, "node_modules", "vite", "bin", "vite.js"), "build", "--logLevel", "warn", "-c", consoleConfig], {
    stdio: "inherit",
    cwd: root,
  });
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}
// tsc writes 0644; `npx m2m-auth` in a clone runs the bin file itself (an installed package gets
// the bit from npm), so package.json's bins are made executable here.
const manifest = join(root, "package.json");
const { bin = {} } = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")) : {};
for (const path of Object.values(bin)) if (existsSync(join(root, path))) chmodSync(join(root, path), 0o755);
writeFileSync(stampFile, before);
