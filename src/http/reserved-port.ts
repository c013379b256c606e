import * as net from "node:net";

// The port is bound before anything else happens at start: a second instance started on a busy
// port must fail before it bootstraps (and prints) admin credentials into a store, not after.
// The bound socket is then handed to the listener as it is, so there is no moment in which
// another process could take the port between the check and the serving.

/** PortUnavailableError says the port cannot be bound: in use (EADDRINUSE), or not allowed (EACCES). */
export class PortUnavailableError extends Error {
  /** code is the errno of the failed bind. */
  readonly code: string;

  /** `option` names the variable that set the port when it is not the service's own (METRICS_PORT). */
  constructor(host: string, port: number, code: string, option?: string) {
    const reason = code === "EADDRINUSE" ? `port ${port} is in use (on ${host})` : `cannot bind ${host}:${port}: ${code}`;
    super(option === undefined ? reason : `${option}: ${reason}`);
    this.name = "PortUnavailableError";
    this.code = code;
  }
}

/** ReservedPort is a bound port that answers nobody yet; connections made meanwhile wait, unread, for the listener. */
export interface ReservedPort {
  readonly host: string;
  readonly port: number;
  /**
   * handOver makes `server` listen on the reserved socket and gives it the connections accepted
   * meanwhile (emitted as its "connection" events); the reservation is spent.
   */
  handOver(server: net.Server): Promise<void>;
  /** release closes the port (and the connections accepted meanwhile), e.g. when the start fails or workers will bind it. */
  release(): Promise<void>;
}

/** reservePort binds `host:port` (0: any free port); it throws PortUnavailableError when it cannot. */
export async function reservePort(host: string, port: number): Promise<ReservedPort> {
  const waiting = new Set<net.Socket>();
  const holder = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => {
    waiting.add(socket);
    socket.once("close", () => waiting.delete(socket));
    // A reset from a client that gave up waiting must not crash the process.
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    holder.once("error", (err: NodeJS.ErrnoException) => reject(new PortUnavailableError(host, port, err.code ?? err.message)));
    holder.listen(port, host, () => resolve());
  });
  const bound = (holder.address() as net.AddressInfo).port;
  let spent = false;
  return {
    host,
    port: bound,
    handOver(server) {
      if (spent) return Promise.reject(new Error("the reserved port was handed over or released already"));
      spent = true;
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        // net.Server.listen(handle): the listening socket itself moves over, never unbound.
        server.listen(holder, () => {
          server.off("error", reject);
          for (const socket of waiting) {
            socket.removeAllListeners("error");
            socket.resume();
            server.emit("connection", socket);
          }
          waiting.clear();
          resolve();
        });
      });
    },
    async release() {
      if (spent) return;
      spent = true;
      for (const socket of waiting) socket.destroy();
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    },
  };
}
