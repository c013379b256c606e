import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { faultCause, isServerFault } from "./connect-errors.js";

/**
 * createLoggingInterceptor logs one line per RPC outcome: procedure, code and duration. It never
 * logs messages, headers or bodies, so neither a secret nor a token can reach the log; a server
 * fault (a 5xx code) is logged at `error` with its cause, which is ours, never caller data.
 */
export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const start = performance.now();
    const rpc = `/${req.service.typeName}/${req.method.name}`;
    // Health checks are probes (Kubernetes, balancers), asked every few seconds: `debug`, as /healthz.
    const level = req.service.typeName === Health.typeName ? "debug" : "info";
    try {
      const res = await next(req);
      logger[level]({ rpc, code: "ok", ms: Math.round(performance.now() - start) }, "rpc");
      return res;
    } catch (err) {
      const code = err instanceof ConnectError ? err.code : Code.Internal;
      const line = { rpc, code: Code[code], ms: Math.round(performance.now() - start) };
      if (isServerFault(code)) logger.error({ ...line, err: faultCause(err) }, "rpc");
      else logger[level](line, "rpc");
      throw err;
    }
  };
}
