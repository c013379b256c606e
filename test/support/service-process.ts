import { spawn, type ChildProcess } from "node:child_process";
import * as http from "node:http";
import { fileURLToPath } from "node:url";

// The real process (`node --import tsx src/main.ts`) as an operator runs it, for tests that send
// it signals: spawned on a known port, its JSON log lines parsed, with plain node:http requests
// that say whether their connection was reused or refused.

const root = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** LogLine is one JSON line of a process's stdout. */
export interface LogLine {
  pid: number;
  msg: string;
  [field: string]: unknown;
}

/** Service is one spawned `src/main.ts`. */
export interface Service {
  child: ChildProcess;
  port: number;
  /** lines parses stdout so far; it throws on a line that is not JSON (e.g. two workers' lines interleaved). */
  lines(): LogLine[];
  stderr(): string;
  exited: Promise<number | null>;
  /** waitFor resolves with the first line `match` accepts, or fails naming `what`. */
  waitFor(what: string, match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/**
 * spawnService starts `src/main.ts` on `port` with `env` (over PATH, LOG_LEVEL=debug and
 * M2M_DRAIN_SECONDS=0: a test that drains says so) and adds it to `owner`, which the caller kills.
 */
export function spawnService(env: Record<string, string>, port: number, owner: ChildProcess[]): Service {
  // With workers, they are children of the primary: a SIGKILL of the primary alone would orphan
  // them, but node:cluster workers exit when their IPC channel to the primary closes.
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", PORT: String(port), LOG_LEVEL: "debug", M2M_DRAIN_SECONDS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  owner.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines = () =>
    stdout
      .split("\n")
      .slice(0, -1)
      .map((text) => {
        try {
          return JSON.parse(text) as LogLine;
        } catch {
          throw new Error(`a stdout line is not JSON: ${text}`);
        }
      });
  async function waitFor(what: string, match: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = lines().find(match);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited ${child.exitCode} before ${what}: ${stderr}${stdout}`);
      if (Date.now() > until) throw new Error(`no ${what} within ${timeoutMs} ms; stdout:\n${stdout.slice(-3000)}`);
      await sleep(20);
    }
  }
  return { child, port, lines, stderr: () => stderr, exited, waitFor };
}

/** killAll sends SIGKILL to every child in `children` still running, and empties it. */
export function killAll(children: ChildProcess[]): void {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** Reply is one answered request. */
export interface Reply {
  status: number;
  body: string;
  /** reused says the request went over a kept-alive connection that had served one before. */
  reused: boolean;
  /** closing says the response carried `connection: close`. */
  closing: boolean;
}

/** send makes one request; without `agent`, over a fresh connection. It rejects with the socket error (carrying `reused`). */
export function send(
  port: number,
  path: string,
  options: { method?: string; body?: string; headers?: Record<string, string>; agent?: http.Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers, agent: options.agent ?? false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket, closing: res.headers.connection === "close" }));
        res.on("error", (err) => reject(Object.assign(err, { reused: req.reusedSocket })));
      },
    );
    req.on("error", (err) => reject(Object.assign(err, { reused: req.reusedSocket })));
    req.end(options.body);
  });
}

/** tokenRequest asks for a token with client_secret_post. */
export function tokenRequest(port: number, clientId: string, clientSecret: string, agent?: http.Agent): Promise<Reply> {
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }).toString();
  return send(port, "/oauth/token", { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" }, ...(agent ? { agent } : {}) });
}
