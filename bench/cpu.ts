import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

// CPU time of other processes, from Linux's /proc: noise on a shared machine changes how fast a
// run goes much more than how much CPU one request costs. Elsewhere the figures are left out.

let ticksPerSecond: number | undefined;

/** CpuTime is CPU time in ms: of whole processes, and of their main (event loop) threads alone. */
export interface CpuTime {
  totalMs: number;
  mainMs: number;
}

/** clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** statTicks reads user + system ticks from a /proc stat file. */
function statTicks(path: string): number {
  const stat = readFileSync(path, "utf8");
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** cpuTime is the CPU time of `pids` (every thread, and each main thread alone), or undefined if unknown. */
export function cpuTime(pids: readonly number[]): CpuTime | undefined {
  let total = 0;
  let main = 0;
  try {
    for (const pid of pids) {
      total += statTicks(`/proc/${pid}/stat`);
      // A process's main thread has the process's id as its thread id.
      main += statTicks(`/proc/${pid}/task/${pid}/stat`);
    }
  } catch {
    return undefined;
  }
  const perTick = 1000 / clockTicks();
  return { totalMs: total * perTick, mainMs: main * perTick };
}
