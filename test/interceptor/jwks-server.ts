// A JWKS endpoint for tests: serves a settable body and status, counts requests, and can hold
// its answers until released (to see concurrent fetches pile up) or stop listening.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** JwksServer is a local HTTP/1.1 JWKS endpoint under test control. */
export interface JwksServer {
  url: string;
  /** requests counts every request received, answered or not. */
  readonly requests: number;
  /** body is the JSON document served with status 200. */
  body: unknown;
  /** status, when not 200, is answered with an error body instead of `body`. */
  status: number;
  /** hold makes requests wait for release(); arrived() resolves once `n` requests are waiting. */
  hold(): void;
  release(): void;
  arrived(n: number): Promise<void>;
  close(): Promise<void>;
}

/** startJwksServer listens on a free loopback port and serves `body` as the JWKS. */
export async function startJwksServer(body: unknown): Promise<JwksServer> {
  let requests = 0;
  let held: Array<() => void> | undefined;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const state = { body, status: 200 };
  const server: Server = createServer((_req, res) => {
    requests++;
    const answer = () => {
      if (state.status !== 200) res.writeHead(state.status, { "content-type": "text/plain" }).end("down");
      else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(state.body));
    };
    if (held === undefined) return answer();
    held.push(answer);
    for (const w of waiters.filter((w) => held !== undefined && held.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    get body() {
      return state.body;
    },
    set body(v) {
      state.body = v;
    },
    get status() {
      return state.status;
    },
    set status(v) {
      state.status = v;
    },
    hold() {
      held ??= [];
    },
    release() {
      const pending = held ?? [];
      held = undefined;
      for (const answer of pending) answer();
    },
    arrived: (n) => new Promise<void>((resolve) => (held !== undefined && held.length >= n ? resolve() : waiters.push({ n, resolve }))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
