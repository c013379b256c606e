import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

// Runs the m2m-auth command line as an operator does, as its own process: the TypeScript entry
// through tsx (no build needed); test/packaging runs the built bin.

const root = fileURLToPath(new URL("../..", import.meta.url));

/** CliResult is what a run of the CLI left: its exit code and both streams, whole. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** runCli runs `m2m-auth args…` with only `env` (and PATH) set, `input` on stdin. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, input = ""): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  // "close": both streams are read to the end.
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}
