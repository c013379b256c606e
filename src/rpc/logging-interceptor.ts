import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
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
    try {
      const res = await next(req);
      logger.info({ rpc, code: "ok", ms: Math.round(performance.now() - start) }, "rpc");
      return res;
    } catch (err) {
      const code = err instanceof ConnectError ? err.code : Code.Internal;
      const line = { rpc, code: Code[code], ms: Math.round(performance.now() - start) };
      if (isServerFault(code)) logger.error({ ...line, err: faultCause(err) }, "rpc");
      else logger.info(line, "rpc");
      throw err;
    }
  };
}
