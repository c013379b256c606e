// The child side of the bench's parent/child protocol: a child announces itself ready once, then
// answers requests by id; it leaves when asked to stop or when its parent goes away.

/** Handler answers one request from the parent. */
export type Handler = (payload: unknown) => unknown;

interface Request {
  type: string;
  id: number;
  payload?: unknown;
}

/** send posts a message to the parent, ignoring a parent that has already gone. */
function send(message: object): void {
  if (process.connected) process.send?.(message);
}

/**
 * serveParent answers the parent's requests with `handlers`; the `stop` request runs `onStop`
 * and exits the process (so `--cpu-prof` writes its profile), as does losing the parent.
 */
export function serveParent(handlers: Record<string, Handler>, onStop: () => Promise<void> | void = () => {}): void {
  if (!process.send) throw new Error("this file is a bench child: run it through bench/run.ts");
  process.on("disconnect", () => process.exit(1));
  process.on("message", (raw) => {
    const message = raw as Request;
    if (message.type === "stop") {
      void Promise.resolve()
        .then(onStop)
        .finally(() => {
          send({ type: "reply", id: message.id, value: null });
          setImmediate(() => process.exit(0));
        });
      return;
    }
    const handler = handlers[message.type];
    void Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown request ${message.type}`);
        return handler(message.payload);
      })
      .then(
        (value) => send({ type: "reply", id: message.id, value: value ?? null }),
        (err: unknown) => send({ type: "error", id: message.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
}

/** announceReady tells the parent the child is up, with what the parent needs to use it. */
export function announceReady(value: object = {}): void {
  send({ type: "ready", value });
}

/** announceFailure tells the parent the child could not start, and exits. */
export function announceFailure(err: unknown): never {
  send({ type: "failed", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
}
