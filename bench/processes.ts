import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

// Every server, load generator and signer of the bench runs in a child process of its own, so
// none shares an event loop with another. All of them are tracked here and killed on the way out.

const children = new Set<ChildProcess>();

/** BenchChild is a started child process that has announced itself ready. */
export interface BenchChild<Ready> {
  readonly pid: number;
  /** ready is what the child announced when it came up (e.g. its URL). */
  readonly ready: Ready;
  /** request sends `type` with `payload` and resolves with the child's answer. */
  request<T>(type: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  /** stop asks the child to exit, then terminates it if it does not; it resolves once it is gone. */
  stop(): Promise<void>;
  /** stderrLines are the distinct lines the child wrote to stderr, when `collectStderr` was set. */
  stderrLines(): string[];
}

/** StartOptions configures startChild. */
export interface StartOptions {
  /** env is added to the parent's environment. */
  env?: Record<string, string>;
  /** args are the child's command-line arguments (its process.argv from index 2). */
  args?: string[];
  /** nodeFlags are extra Node flags for the child, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  readyTimeoutMs?: number;
  /** collectStderr keeps the child's stderr (and its own children's) instead of passing it on. */
  collectStderr?: boolean;
}

interface Message {
  type: string;
  id?: number;
  value?: unknown;
  message?: string;
}

/** exited resolves when `child` has exited, or at once if it already has. */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** startChild forks `bench/<entry>` under tsx and waits for it to announce itself ready. */
export async function startChild<Ready>(entry: string, options: StartOptions = {}): Promise<BenchChild<Ready>> {
  const file = fileURLToPath(new URL(entry, import.meta.url));
  const child = fork(file, options.args ?? [], {
    execArgv: ["--import", "tsx", ...(options.nodeFlags ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "inherit", options.collectStderr ? "pipe" : "inherit", "ipc"],
  });
  children.add(child);
  const stderr = new Set<string>();
  let partial = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") stderr.add(line.trim());
  });
  child.once("exit", () => children.delete(child));
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  child.on("message", (raw) => {
    const message = raw as Message;
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id as number);
    if (message.type === "error") waiter.reject(new Error(`${entry}: ${message.message}`));
    else waiter.resolve(message.value);
  });
  child.once("exit", (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${entry} exited (${signal ?? code})`));
    pending.clear();
  });

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} was not ready within ${options.readyTimeoutMs ?? 60_000} ms`)), options.readyTimeoutMs ?? 60_000);
    const onMessage = (raw: unknown) => {
      const message = raw as Message;
      if (message.type === "ready") done(() => resolve(message.value as Ready));
      if (message.type === "failed") done(() => reject(new Error(`${entry} failed to start: ${message.message}`)));
    };
    const onExit = (code: number | null, signal: string | null) => done(() => reject(new Error(`${entry} exited (${signal ?? code}) before it was ready`)));
    const done = (settle: () => void) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      settle();
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  }).catch(async (err: unknown) => {
    child.kill("SIGKILL");
    await exited(child);
    throw err;
  });

  const request = <T>(type: string, payload?: unknown, timeoutMs = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${entry}: no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value as T)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      if (!child.connected) pending.get(id)?.reject(new Error(`${entry} is not running`));
      else child.send({ type, id, payload });
    });

  return {
    pid: child.pid ?? -1,
    ready,
    request,
    async stop() {
      await request("stop", undefined, 10_000).catch(() => {});
      const gone = exited(child);
      const term = setTimeout(() => child.kill("SIGTERM"), 3_000);
      const kill = setTimeout(() => child.kill("SIGKILL"), 6_000);
      await gone;
      clearTimeout(term);
      clearTimeout(kill);
    },
    stderrLines: () => [...stderr, ...(partial.trim() === "" ? [] : [partial.trim()])],
  };
}

/** killAllChildren SIGKILLs every child still running; safe to call from an `exit` handler. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.pid !== undefined) child.kill("SIGKILL");
  }
}
