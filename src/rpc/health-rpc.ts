import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";
import { notReadyReasons, type Readiness } from "../readiness.js";

// gRPC's health checking protocol (github.com/grpc/grpc/blob/master/doc/health-checking.md), as
// Kubernetes gRPC probes, grpc-health-probe and load balancers call it. The status is /readyz's
// answer (readiness.ts), so an HTTP probe and a gRPC probe never disagree: every service here
// needs the store and the signing keys, so each has the same status as the server overall ("").

/** HealthRpcOptions configures createHealthRpc. */
export interface HealthRpcOptions {
  /** readiness holds the conditions /readyz reports; Watch sends a status on each change. */
  readiness: Readiness;
  /** ping resolves when the store answers now. */
  ping: () => Promise<void>;
  /** services are the full names (`m2mauth.v1.TokenService`) a caller may ask about, besides "". */
  services: readonly string[];
}

/** HealthRpc is the grpc.health.v1.Health implementation and the means to end its watches. */
export interface HealthRpc {
  /** service implements Check and Watch. */
  readonly service: ServiceImpl<typeof Health>;
  /**
   * close ends every Watch stream (status OK, which the spec tells clients to retry with backoff),
   * and each later one at once: an open watch would otherwise hold the listener's shutdown.
   */
  close(): void;
}

/** createHealthRpc returns grpc.health.v1.Health over `readiness` and the store's `ping`. */
export function createHealthRpc(options: HealthRpcOptions): HealthRpc {
  const { readiness, ping } = options;
  const known = new Set(["", ...options.services]);
  const closing = new AbortController();
  const response = (status: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status });
  const current = async (): Promise<ServingStatus> =>
    (await notReadyReasons(readiness, ping)).length === 0 ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;

  async function* watch(service: string, signal: AbortSignal): AsyncGenerator<HealthCheckResponse> {
    const ended = AbortSignal.any([signal, closing.signal]);
    let wake: (() => void) | undefined;
    // Set by a readiness change that arrives while a status is being computed, so none is missed.
    let changed = true;
    const stop = readiness.onChange(() => {
      changed = true;
      wake?.();
    });
    const onEnd = () => wake?.();
    ended.addEventListener("abort", onEnd);
    const next = () => new Promise<void>((resolve) => (wake = resolve));
    try {
      if (!known.has(service)) {
        // The spec: SERVICE_UNKNOWN, and the call stays open (our set of services never changes).
        yield response(ServingStatus.SERVICE_UNKNOWN);
        if (!ended.aborted) await next();
        return;
      }
      let last: ServingStatus | undefined;
      while (!ended.aborted) {
        if (!changed) await next();
        if (ended.aborted) break;
        changed = false;
        const status = await current();
        // Only a change is sent: readiness may flip and flip back while the ping is under way.
        if (status !== last && !ended.aborted) {
          last = status;
          yield response(status);
        }
      }
      // The server is closing: whatever the race with the readiness change, its last word is this.
      if (closing.signal.aborted && !signal.aborted && last !== ServingStatus.NOT_SERVING) yield response(ServingStatus.NOT_SERVING);
    } finally {
      stop();
      ended.removeEventListener("abort", onEnd);
    }
  }

  return {
    service: {
      async check(req) {
        // The spec: an unknown service is NOT_FOUND for Check (Watch answers SERVICE_UNKNOWN).
        if (!known.has(req.service)) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        return response(await current());
      },
      watch: (req, ctx) => watch(req.service, ctx.signal),
    },
    close: () => closing.abort(),
  };
}
