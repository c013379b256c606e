import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";

/**
 * createLoggingInterceptor logs one line per RPC outcome: procedure, code and duration. It never
 * logs messages, headers or bodies, so neither a secret nor a token can reach the log.
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
      if (code === Code.Internal || code === Code.Unknown) {
        // The cause is ours (a bug or a dependency), never caller data; log it for the operator.
        const cause = err instanceof ConnectError ? err.cause : err;
        logger.error({ ...line, err: cause }, "rpc");
      } else {
        logger.info(line, "rpc");
      }
      throw err;
    }
  };
}
