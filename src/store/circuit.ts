import { UnavailableError } from "../errors.js";

// Without it every request waits out the store timeout while Redis is down or hung, holding its
// socket and the caller that long. Once a call has shown the deployment down, the next calls fail
// at once and one probe at a time finds out when it answers again: a circuit breaker
// (Nygard, "Release It!", ch. 5) whose half-open state is that background probe, so no request
// is ever the one that waits.

const defaultProbeIntervalMs = 100;

/** Circuit runs calls to a dependency while it is believed up, and fails them at once while it is known down. */
export interface Circuit {
  /**
   * run runs `call` and returns its result; any failure becomes UnavailableError, and one that
   * `trips` accepts marks the dependency down. While down it throws UnavailableError at once.
   */
  run<T>(call: () => Promise<T>): Promise<T>;
  /** up is false from a tripping failure until a probe succeeds. */
  readonly up: boolean;
  /** onChange calls `listener` with `up` after each change; returns a function that removes it. */
  onChange(listener: (up: boolean) => void): () => void;
  /** probeNow probes at once while down (e.g. the connection says it is ready again); a no-op while up. */
  probeNow(): void;
}

/** CircuitOptions configures createCircuit. */
export interface CircuitOptions {
  /** probe resolves when the dependency answers again; it must itself be bounded in time. */
  probe: () => Promise<void>;
  /** trips says whether a call's failure shows the dependency down; default every failure. */
  trips?: (err: unknown) => boolean;
  /** probeIntervalMs is the pause after a failed probe before the next; default 100. */
  probeIntervalMs?: number;
  /** closed is true once the dependency was closed for good: probing stops. */
  closed?: () => boolean;
}

/** createCircuit returns a Circuit that starts up. */
export function createCircuit(options: CircuitOptions): Circuit {
  const probeIntervalMs = options.probeIntervalMs ?? defaultProbeIntervalMs;
  const listeners = new Set<(up: boolean) => void>();
  let up = true;
  // Bumped by every recovery: a call that started before it says nothing about the dependency now.
  let epoch = 0;
  let probing = false;
  let timer: NodeJS.Timeout | undefined;

  function set(value: boolean): void {
    if (up === value) return;
    up = value;
    for (const listener of listeners) {
      try {
        listener(value);
      } catch {
        // A failing listener must not turn into a failed store call.
      }
    }
  }

  function schedule(): void {
    if (up || probing || timer !== undefined) return;
    timer = setTimeout(probe, probeIntervalMs);
    // Nothing waits on the probe: it must not keep a finished process alive.
    timer.unref();
  }

  function probe(): void {
    timer = undefined;
    if (up || probing || options.closed?.()) return;
    probing = true;
    options.probe().then(
      () => {
        probing = false;
        epoch++;
        set(true);
      },
      () => {
        probing = false;
        schedule();
      },
    );
  }

  return {
    async run(call) {
      if (!up) throw new UnavailableError(undefined, { cause: new Error("the store is known to be unreachable; a probe checks when it is back") });
      const started = epoch;
      try {
        return await call();
      } catch (err) {
        if (started === epoch && (options.trips?.(err) ?? true)) {
          set(false);
          schedule();
        }
        throw new UnavailableError(undefined, { cause: err });
      }
    },
    get up() {
      return up;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    probeNow() {
      if (up) return;
      clearTimeout(timer);
      probe();
    },
  };
}
