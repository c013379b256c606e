import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

// The service as an operator runs it: `node dist/src/main.js`, configured by environment only
// (M2M_WORKERS, NODE_ENV=production, REDIS_URL…), its stdout and stderr discarded. The bench
// watches the primary and its workers' CPU through /proc.

const root = fileURLToPath(new URL("..", import.meta.url));

/** ServiceProcess is a running service: its URL, and the primary's and workers' pids. */
export interface ServiceProcess {
  url: string;
  /** pids are the primary's and every worker's. */
  pids: number[];
  /** stop sends SIGTERM and waits for the process to exit. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** freePort returns a loopback port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** childPids lists the processes `pid` started (Linux), e.g. a node:cluster primary's workers. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** startService starts dist/src/main.js with `env` and waits until all `workers` answer. */
export async function startService(env: Record<string, string>, workers: number, timeoutMs = 30_000): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/src/main.js"], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", HOST: "127.0.0.1", PORT: String(port), M2M_WORKERS: String(workers), NODE_ENV: "production", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-2_000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => running.delete(child));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dist/src/main.js exited ${child.exitCode}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    const up = await fetch(`${url}/healthz`).then(
      (res) => res.status === 200,
      () => false,
    );
    const workerPids = workers > 1 ? childPids(child.pid ?? 0) : [];
    if (up && workerPids.length >= (workers > 1 ? workers : 0)) {
      // Every worker listens before the port is shared with it; give the last one a moment.
      await new Promise((r) => setTimeout(r, 500));
      return {
        url,
        pids: [child.pid ?? 0, ...childPids(child.pid ?? 0)],
        async stop() {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
          await exited;
          clearTimeout(timer);
        },
      };
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`dist/src/main.js did not answer with ${workers} workers within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
