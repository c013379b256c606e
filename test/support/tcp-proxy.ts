import { createServer, connect, type Socket } from "node:net";

/** TcpProxy forwards a loopback port to a target, and can cut every connection to fake an outage. */
export interface TcpProxy {
  url: string;
  /** down closes the listener and every open connection. */
  down(): Promise<void>;
  /** up listens again on the same port. */
  up(): Promise<void>;
}

/** startTcpProxy starts a proxy to `target` (host:port) on a random loopback port. */
export async function startTcpProxy(target: { host: string; port: number }, scheme = "redis"): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) =>
      server.listen(port, "127.0.0.1", () => {
        const address = server.address();
        port = typeof address === "object" && address ? address.port : port;
        resolve();
      }),
    );
  await listen();
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    async down() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    up: listen,
  };
}
