import type { Logger } from "pino";
import type { Cors } from "./cors.js";
import type { DiscoveryRoutes } from "./discovery-routes.js";
import { sendJson, type HttpRequest, type HttpResponse } from "./exchange.js";
import type { ManagementRoutes } from "./management-routes.js";
import { withFaultSlot, type FaultSlot } from "./request-fault.js";

/** HttpHandlerOptions are the parts the one handler dispatches to. */
export interface HttpHandlerOptions {
  /** rpc is the connect-node adapter: Connect, gRPC and gRPC-Web for every service. */
  rpc: (req: HttpRequest, res: HttpResponse) => void;
  /** token is the `/oauth/token` endpoint; it logs its own outcome (with the client id). */
  token: (req: HttpRequest, res: HttpResponse) => Promise<void>;
  management: ManagementRoutes;
  discovery: DiscoveryRoutes;
  /** cors is the cross-origin policy (M2M_CORS_ORIGINS) for every path; undefined: none. */
  cors?: Cors | undefined;
  logger: Logger;
}

/** HttpHandler is the request listener of both the HTTP/1.1 and the HTTP/2 server. */
export type HttpHandler = (req: HttpRequest, res: HttpResponse) => void;

// An RPC path is /package.Service/Method; everything else is one of our HTTP routes.
const rpcPath = /^\/[A-Za-z_][\w.]*\.[A-Za-z_]\w*\/[A-Za-z_]\w*$/;

/**
 * createHttpHandler routes a request: RPCs to the connect adapter (logged by its interceptor),
 * `/oauth/token` to the token endpoint (which logs its own outcome), the rest to the REST and
 * discovery routes, logged here: each answer once, a 5xx with its cause.
 */
export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const { rpc, token, management, discovery, cors, logger } = options;
  return (req, res) => {
    // Before any route: a preflight from an allowed origin is answered here, whatever the path.
    if (cors?.handle(req, res) === true) return;
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (rpcPath.test(path)) return rpc(req, res);
    if (path === "/oauth/token") {
      token(req, res).catch((err: unknown) => logger.error({ err }, "token endpoint failed"));
      return;
    }
    const start = performance.now();
    // One line per answer, when it is sent; a 5xx at `error`, with the cause its route recorded.
    const slot: FaultSlot = {};
    res.once("finish", () => {
      const line = { method: req.method, path, status: res.statusCode, ms: Math.round(performance.now() - start) };
      if (res.statusCode >= 500) logger.error({ ...line, err: slot.cause }, "http");
      else logger.info(line, "http");
    });
    withFaultSlot(slot, async () => {
      // The URL's host is a placeholder: only path and query are read, never a Host header.
      const url = new URL(req.url ?? "/", "http://localhost");
      if ((await management(req, res, url)) || (await discovery(req, res, url))) return;
      sendJson(res, 404, { code: "not_found", message: `no route for ${path}` });
    }).catch((err: unknown) => {
      if (!res.headersSent) {
        slot.cause ??= err;
        sendJson(res, 500, { code: "internal", message: "internal error" });
      } else {
        // Its answer had begun: there is no 500 to log it with.
        logger.error({ method: req.method, path, err }, "http route failed");
        res.destroy();
      }
    });
  };
}
