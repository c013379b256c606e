import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, stat, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// src/ops/build.mjs on a one-file project of its own (the repository's dist/ is test/packaging's):
// `--if-stale` builds when any input differs from the last build's stamp, and only then.

const root = fileURLToPath(new URL("../..", import.meta.url));
let project: string;

async function build(...args: string[]): Promise<{ built: boolean; stderr: string }> {
  const { stderr } = await promisify(execFile)(process.execPath, ["src/ops/build.mjs", ...args], { cwd: project });
  return { built: stderr.includes("building"), stderr };
}

const mtime = async (path: string) => (await stat(join(project, path))).mtimeMs;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "m2m-build-"));
  await mkdir(join(project, "src", "ops"), { recursive: true });
  await copyFile(join(root, "src", "ops", "build.mjs"), join(project, "src", "ops", "build.mjs"));
  await symlink(join(root, "node_modules"), join(project, "node_modules"), "dir");
  const compilerOptions = { module: "nodenext", target: "es2022", strict: true, types: [], outDir: "dist", rootDir: "." };
  await writeFile(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }));
  await writeFile(join(project, "tsconfig.build.json"), JSON.stringify({ extends: "./tsconfig.json" }));
  await writeFile(join(project, "src", "a.ts"), "export const a = 1;\n");
});
afterAll(() => rm(project, { recursive: true, force: true }));

describe("src/ops/build.mjs --if-stale", () => {
  it("builds the first time, then not while the inputs are unchanged", async () => {
    expect((await build("--if-stale")).built).toBe(true);
    const output = await mtime("dist/src/a.js");
    expect(await build("--if-stale")).toEqual({ built: false, stderr: "" });
    expect(await mtime("dist/src/a.js")).toBe(output);
  }, 60_000);

  it("rebuilds after an edit, an older mtime (a checkout), an added or a removed file", async () => {
    await writeFile(join(project, "src", "a.ts"), "export const a = 2;\n");
    expect((await build("--if-stale")).built).toBe(true);
    const old = new Date("2020-01-01T00:00:00Z");
    await utimes(join(project, "src", "a.ts"), old, old);
    expect((await build("--if-stale")).built).toBe(true);
    await writeFile(join(project, "src", "b.ts"), "export const b = 1;\n");
    expect((await build("--if-stale")).built).toBe(true);
    await stat(join(project, "dist", "src", "b.js"));
    await unlink(join(project, "src", "b.ts"));
    expect((await build("--if-stale")).built).toBe(true);
    // dist/ is made from scratch: nothing of the removed file is left to import.
    await expect(stat(join(project, "dist", "src", "b.js"))).rejects.toThrow(/ENOENT/);
    expect((await build("--if-stale")).built).toBe(false);
  }, 120_000);

  it("always builds without --if-stale (npm run build), and fails as tsc does", async () => {
    const before = await mtime("dist/src/a.js");
    await build();
    expect(await mtime("dist/src/a.js")).toBeGreaterThan(before);
    await writeFile(join(project, "src", "a.ts"), "export const a: string = 2;\n");
    await expect(build("--if-stale")).rejects.toMatchObject({ code: 2 });
    // A failed build leaves no stamp: the next start tries again.
    await expect(build("--if-stale")).rejects.toMatchObject({ code: 2 });
  }, 120_000);
});
