import cluster, { type Worker } from "node:cluster";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { startPrimary, type PrimaryOptions } from "../src/primary.js";

// The supervisor's policy, with stand-in workers (test/support/cluster-worker.mjs) that listen,
// crash, refuse or hang on cue. test/main-workers.test.ts runs it with the real service.

interface Line {
  msg: string;
  workerPid?: number;
  restartInMs?: number;
  [field: string]: unknown;
}

beforeAll(() => {
  cluster.setupPrimary({ exec: fileURLToPath(new URL("./support/cluster-worker.mjs", import.meta.url)), execArgv: [], silent: true });
});

afterEach(() => {
  for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
  delete process.env["FIXTURE_MODE"];
});

function run(mode: string, options: Partial<PrimaryOptions> = {}) {
  // Forked workers inherit the environment at fork time.
  process.env["FIXTURE_MODE"] = mode;
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split("\n")) if (text) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  const primary = startPrimary({ workers: 2, logger: pino({ level: "info" }, sink), ...options });
  const within = (ms: number) => Promise.race([primary.exited, new Promise((r) => setTimeout(() => r(`not exited within ${ms} ms`), ms))]);
  const said = (msg: string) => lines.filter((l) => l.msg === msg);
  const until = async (what: string, test: () => boolean, ms = 10_000) => {
    for (const end = Date.now() + ms; !test(); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms: ${JSON.stringify(lines)}`);
    }
  };
  return { primary, lines, within, said, until };
}

describe("startPrimary", () => {
  it("logs once that every worker listens; stop() drains them all, replaces none, and exits 0", async () => {
    const { primary, within, said, until } = run("serve");
    await until("start", () => said("started workers").length === 1);
    expect(said("started workers")[0]).toMatchObject({ workers: 2, url: "http://127.0.0.1:1" });
    primary.stop("SIGTERM");
    primary.stop("SIGTERM");
    expect(await within(5_000)).toBe(0);
    expect(said("worker stopped").map((l) => l["code"])).toEqual([0, 0]);
    expect(said("worker died: restarting it")).toEqual([]);
    expect(said("stopped")).toMatchObject([{ code: 0 }]);
  });

  it("exits 1 when a worker stops uncleanly during the drain", async () => {
    const { primary, within, said, until } = run("dirty");
    await until("start", () => said("started workers").length === 1);
    primary.stop("SIGINT");
    expect(await within(5_000)).toBe(1);
    expect(said("worker stopped uncleanly").map((l) => l["code"])).toEqual([3, 3]);
  });

  it("replaces workers that die, backing off, and gives up with exit 1 past maxDeaths within the window", async () => {
    const { within, said, lines } = run("crash", { maxDeaths: 3 });
    expect(await within(10_000)).toBe(1);
    // Deaths 1-3 are replaced after 100, 200, 400 ms; the 4th is one too many.
    expect(said("worker died: restarting it").map((l) => [l.restartInMs, l["code"], typeof l.workerPid])).toEqual([
      [100, 1, "number"],
      [200, 1, "number"],
      [400, 1, "number"],
    ]);
    expect(said("workers keep dying: stopping")).toMatchObject([{ deaths: 4, windowMs: 60_000 }]);
    expect(lines.at(-1)).toMatchObject({ msg: "stopped", code: 1 });
  });

  it("forgets deaths older than the window", async () => {
    const { primary, within, said, until } = run("crash", { workers: 1, maxDeaths: 1, deathWindowMs: 50 });
    // The replacement comes 100 ms after a death: each death is alone in its 50 ms window.
    await until("six replacements", () => said("worker died: restarting it").length >= 6);
    expect(said("worker died: restarting it").every((l) => l.restartInMs === 100)).toBe(true);
    primary.stop("SIGTERM");
    expect(await within(5_000)).toBe(0);
  });

  it("stops with exit code 2 when a worker refuses the configuration", async () => {
    const { within, said } = run("refuse");
    expect(await within(5_000)).toBe(2);
    expect(said("a worker refused the configuration: stopping")).toHaveLength(1);
    expect(said("worker died: restarting it")).toEqual([]);
  });

  it("kills a worker that never listens, and does not retry a first start that failed", async () => {
    const { within, said } = run("silent", { startTimeoutMs: 300 });
    expect(await within(5_000)).toBe(1);
    expect(said("worker did not start listening in time: killing it").length).toBeGreaterThanOrEqual(1);
    expect(said("a worker failed to start: stopping")).toMatchObject([{ signal: "SIGKILL" }]);
    expect(said("worker died: restarting it")).toEqual([]);
  });

  it("reload() sends SIGHUP to every listening worker, and to one still starting once it listens; none dies", async () => {
    const reloaded: number[] = [];
    const onMessage = (worker: Worker, message: unknown) => {
      if ((message as { type?: unknown }).type === "fixture:reloaded") reloaded.push(worker.process.pid ?? 0);
    };
    cluster.on("message", onMessage);
    try {
      const { primary, within, said, until } = run("reload");
      // Before either listens: a SIGHUP now would kill them (no handler yet), so it waits.
      primary.reload();
      await until("start", () => said("started workers").length === 1);
      const pids = said("started workers")[0]!["workerPids"] as number[];
      await until("a reload in each worker", () => reloaded.length === 2);
      expect([...reloaded].sort()).toEqual([...pids].sort());
      primary.reload();
      await until("a second reload in each worker", () => reloaded.length === 4);
      expect(said("worker died: restarting it")).toEqual([]);
      primary.stop("SIGTERM");
      expect(await within(5_000)).toBe(0);
    } finally {
      cluster.off("message", onMessage);
    }
  });
});
