import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";

// M2M_WORKERS > 1: node:cluster workers share the port (the primary accepts and hands connections
// round-robin), and this primary only forks, watches and drains them. Every worker is the whole
// one-process service; they share nothing but the store.

/** PrimaryOptions configures startPrimary; the bounds have defaults. */
export interface PrimaryOptions {
  /** workers is how many worker processes serve the port (M2M_WORKERS). */
  workers: number;
  logger: Logger;
  /** maxDeaths: one more unexpected worker exit than this within deathWindowMs stops the primary; default workers × 3. */
  maxDeaths?: number;
  /** deathWindowMs is the window maxDeaths counts in; default 60 s. */
  deathWindowMs?: number;
  /** startTimeoutMs kills a worker that is not listening this long after its fork; default 30 s. */
  startTimeoutMs?: number;
  /** stopTimeoutMs kills workers still draining this long after stop(); default 30 s. */
  stopTimeoutMs?: number;
}

/** Primary is the running supervisor. */
export interface Primary {
  /** stop sends SIGTERM to every worker, so each drains its requests, and restarts none; idempotent. */
  stop(reason: string): void;
  /**
   * reload sends SIGHUP to every worker, which reloads its TLS certificate; a worker still
   * starting gets it once it listens (it may have read the files before the change).
   */
  reload(): void;
  /** exited resolves with the process exit code once every worker is gone: 0 after a clean drain. */
  readonly exited: Promise<number>;
}

const listeningType = "m2m-auth:listening";
// Restart backoff: 100 ms after a first death, doubling with each death in the window, up to 5 s.
const firstBackoffMs = 100;
const maxBackoffMs = 5_000;

/** notifyListening tells the primary, when this process is a worker, that it serves `url`. */
export function notifyListening(url: string): void {
  if (cluster.isWorker) process.send?.({ type: listeningType, url });
}

/** releaseWorker lets a worker process exit once its work is done: the IPC channel would keep it alive. */
export function releaseWorker(): void {
  if (cluster.isWorker && process.connected) cluster.worker?.disconnect();
}

// Log fields say workerPid: pid is every line's own process (see logger.ts).
interface WorkerState {
  pid: number | undefined;
  listening: boolean;
  startTimer: NodeJS.Timeout;
  /** reloadPending: a reload came before this worker listened, when SIGHUP could still kill it. */
  reloadPending: boolean;
}

function listenedAt(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const { type, url } = message as { type?: unknown; url?: unknown };
  return type === listeningType && typeof url === "string" ? url : undefined;
}

/**
 * startPrimary forks the workers and keeps their number up: one that dies unexpectedly is replaced
 * after a backoff. It gives up (exit 1) when more than maxDeaths die within deathWindowMs, when a
 * worker of the first start dies before listening (a start that failed once fails again: exit
 * with its code, as one process would), or when a worker exits 2, which means its configuration
 * was refused (exit 2). A worker dying during stop() is not replaced.
 */
export function startPrimary(options: PrimaryOptions): Primary {
  const { workers: count, logger } = options;
  const maxDeaths = options.maxDeaths ?? count * 3;
  const deathWindowMs = options.deathWindowMs ?? 60_000;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const running = new Map<Worker, WorkerState>();
  const restarts = new Set<NodeJS.Timeout>();
  let deaths: number[] = [];
  let started = false; // every worker of the first start has listened
  let stopping = false;
  let exitCode = 0;
  let stopTimer: NodeJS.Timeout | undefined;
  let resolveExited: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (resolveExited = resolve));

  function fork(): void {
    const worker = cluster.fork();
    const pid = worker.process.pid;
    const startTimer = setTimeout(() => {
      logger.error({ workerPid: pid, timeoutMs: startTimeoutMs }, "worker did not start listening in time: killing it");
      worker.process.kill("SIGKILL");
    }, startTimeoutMs);
    const entry: WorkerState = { pid, listening: false, startTimer, reloadPending: false };
    running.set(worker, entry);
    // An IPC failure to a dying worker surfaces here; its 'exit' still follows.
    worker.on("error", (err) => logger.warn({ workerPid: pid, err: err.message }, "worker channel error"));
    worker.on("message", (message: unknown) => {
      const url = listenedAt(message);
      if (url === undefined || entry.listening) return;
      entry.listening = true;
      clearTimeout(entry.startTimer);
      if (entry.reloadPending) worker.process.kill("SIGHUP");
      const listening = [...running.values()].filter((e) => e.listening);
      if (!started && listening.length === count) {
        started = true;
        logger.info({ workers: count, url, workerPids: listening.map((e) => e.pid) }, "started workers");
      }
    });
    worker.once("exit", (code: number | null, signal: string | null) => onExit(worker, entry, code, signal));
  }

  function onExit(worker: Worker, entry: WorkerState, code: number | null, signal: string | null): void {
    clearTimeout(entry.startTimer);
    running.delete(worker);
    const { pid, listening } = entry;
    if (stopping) {
      // A worker ended by a signal before it listened (and handled signals) had nothing to drain.
      const clean = code === 0 || (!listening && (signal === "SIGTERM" || signal === "SIGINT"));
      if (!clean) exitCode = Math.max(exitCode, 1);
      if (clean) logger.info({ workerPid: pid, code, signal }, "worker stopped");
      else logger.error({ workerPid: pid, code, signal }, "worker stopped uncleanly");
      finishIfDone();
      return;
    }
    if (code === 2) {
      logger.fatal({ workerPid: pid, code }, "a worker refused the configuration: stopping");
      return giveUp(2);
    }
    if (!started && !listening) {
      logger.fatal({ workerPid: pid, code, signal }, "a worker failed to start: stopping");
      return giveUp(code === null || code === 0 ? 1 : code);
    }
    const now = Date.now();
    deaths = deaths.filter((at) => now - at < deathWindowMs);
    deaths.push(now);
    if (deaths.length > maxDeaths) {
      logger.fatal({ workerPid: pid, code, signal, deaths: deaths.length, windowMs: deathWindowMs }, "workers keep dying: stopping");
      return giveUp(1);
    }
    const restartInMs = Math.min(maxBackoffMs, firstBackoffMs * 2 ** (deaths.length - 1));
    logger.error({ workerPid: pid, code, signal, restartInMs }, "worker died: restarting it");
    const timer = setTimeout(() => {
      restarts.delete(timer);
      fork();
    }, restartInMs);
    restarts.add(timer);
  }

  function giveUp(code: number): void {
    exitCode = Math.max(exitCode, code);
    stop("workers failing");
  }

  function finishIfDone(): void {
    if (!stopping || running.size > 0) return;
    clearTimeout(stopTimer);
    logger.info({ code: exitCode }, "stopped");
    resolveExited(exitCode);
  }

  function stop(reason: string): void {
    if (stopping) return;
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    restarts.clear();
    logger.info({ reason, workers: running.size }, "shutting down: draining workers");
    // Each worker runs its own graceful close on SIGTERM, as one process does.
    for (const worker of running.keys()) worker.process.kill("SIGTERM");
    stopTimer = setTimeout(() => {
      for (const [worker, { pid }] of running) {
        logger.error({ workerPid: pid, timeoutMs: stopTimeoutMs }, "worker did not drain in time: killing it");
        worker.process.kill("SIGKILL");
      }
    }, stopTimeoutMs);
    finishIfDone();
  }

  function reload(): void {
    if (stopping) return;
    logger.info({ workers: running.size }, "reloading the TLS certificate in every worker");
    for (const [worker, entry] of running) {
      if (entry.listening) worker.process.kill("SIGHUP");
      else entry.reloadPending = true;
    }
  }

  for (let i = 0; i < count; i++) fork();
  return { stop, reload, exited };
}
