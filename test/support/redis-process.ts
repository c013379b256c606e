import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Private redis-server processes for tests: started as children (never daemonized, so nothing
// outlives the test process unnoticed), each waited for with a bounded wait, each stopped with
// SHUTDOWN NOSAVE and then killed if it lingers.

const startTimeoutMs = 5_000;
const stopTimeoutMs = 2_000;
const cliTimeoutMs = 2_000;

// A crash of the test process skips afterAll; kill what is still running as it exits.
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** freePort returns a loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** tempDir makes a fresh directory under the system's temp dir, named after `label`. */
export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `m2m-${label}-`));
}

/** removeDir deletes a directory made by tempDir, whatever it holds. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** waitUntil polls `check` every 50 ms until it holds; after `timeoutMs` it throws `message`. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** redisCli runs `redis-cli -p port args…` and returns its output; it rejects on failure or after 2 s. */
export function redisCli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // ExecFileException omits Error's fields to retype `code`: typed as the Error it is, for reject.
    execFile("redis-cli", ["-p", String(port), ...args], { timeout: cliTimeoutMs }, (err: Error | null, stdout) =>
      err ? reject(err) : resolve(stdout.trim()),
    );
  });
}

/** infoField reads one `field:value` line of INFO (or CLUSTER INFO) output. */
export function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, "m").exec(info)?.[1]?.trim();
}

/** RedisProcess is one running redis-server (data node or Sentinel). */
export interface RedisProcess {
  readonly port: number;
  /** pid is the redis-server's process id, e.g. to SIGSTOP it (a hung Redis). */
  readonly pid: number;
  /** exited is true once the process has ended, stopped here or not. */
  readonly exited: boolean;
  /** stop shuts the server down without saving, killing it if it lingers; a no-op once exited. */
  stop(): Promise<void>;
}

/**
 * startRedisProcess starts `redis-server args…` in `dir` (its log goes to `dir/redis.log`) and
 * resolves once it answers PING on `port`, or throws with the log's tail after 5 s.
 */
export async function startRedisProcess(port: number, dir: string, args: string[]): Promise<RedisProcess> {
  const logFile = join(dir, "redis.log");
  const log = openSync(logFile, "a");
  const child = spawn("redis-server", args, { cwd: dir, stdio: ["ignore", log, log] });
  closeSync(log);
  running.add(child);
  let exited = false;
  let spawnError: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      running.delete(child);
      resolve();
    });
    // A missing binary surfaces here, not as an exit.
    child.once("error", (err) => {
      spawnError = err;
      exited = true;
      running.delete(child);
      resolve();
    });
  });
  const tail = () => readFileSync(logFile, "utf8").split("\n").slice(-8).join("\n");
  let failure: string | undefined;
  try {
    // An exit ends the wait at once (it is checked before each PING).
    await waitUntil(
      async () => exited || (await redisCli(port, "ping")) === "PONG",
      startTimeoutMs,
      `redis-server on port ${port} did not answer PING within ${startTimeoutMs / 1000} s`,
    );
    if (exited) failure = `redis-server on port ${port} exited at start`;
  } catch (err) {
    failure = (err as Error).message;
  }
  if (failure !== undefined) {
    child.kill("SIGKILL");
    await exit;
    if (spawnError) {
      throw new Error(
        `cannot start redis-server (${spawnError.message}); the Cluster and Sentinel tests need it (Debian/Ubuntu: apt-get install -y redis-server)`,
      );
    }
    throw new Error(`${failure}; its log ends:\n${tail()}`);
  }
  return {
    port,
    pid: child.pid as number,
    get exited() {
      return exited;
    },
    async stop() {
      if (exited) return;
      await redisCli(port, "shutdown", "nosave").catch(() => undefined);
      const timer = setTimeout(() => child.kill("SIGKILL"), stopTimeoutMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
