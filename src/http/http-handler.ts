import type { Logger } from "pino";
import type { ConsoleRoutes } from "./console-routes.js";
import type { Cors } from "./cors.js";
import { metricsPath, probePaths, type DiscoveryRoutes } from "./discovery-routes.js";
import { sendJson, type HttpRequest, type HttpResponse } from "./exchange.js";
import type { ManagementRoutes } from "./management-routes.js";
import type { RequestOrigin } from "../rpc/request-origin.js";
import { withFaultSlot, type FaultSlot } from "./request-fault.js";
import { createOrigin, keepOrigin, noTrustedProxies, type TrustedProxies } from "./request-origin.js";

/** OAuthRoute is an OAuth endpoint: it answers and logs its own outcome; `origin` is the request's id and source address. */
export type OAuthRoute = (req: HttpRequest, res: HttpResponse, origin: RequestOrigin) => Promise<void>;

/** HttpHandlerOptions are the parts the one handler dispatches to. */
export interface HttpHandlerOptions {
  /** rpc is the connect-node adapter: Connect, gRPC and gRPC-Web for every service. */
  rpc: (req: HttpRequest, res: HttpResponse) => void;
  /** token is the `/oauth/token` endpoint; it logs its own outcome (with the client id). */
  token: OAuthRoute;
  /** introspect is the `/oauth/introspect` endpoint (RFC 7662); it logs its own outcome. */
  introspect: OAuthRoute;
  /** revoke is the `/oauth/revoke` endpoint (RFC 7009); it logs its own outcome. */
  revoke: OAuthRoute;
  management: ManagementRoutes;
  discovery: DiscoveryRoutes;
  /** console serves the admin console's files under `/console`; undefined: not served. */
  console?: ConsoleRoutes | undefined;
  /** cors is the cross-origin policy (M2M_CORS_ORIGINS) for every path; undefined: none. */
  cors?: Cors | undefined;
  logger: Logger;
  /** trustedProxies are the peers whose X-Forwarded-For names the source address (M2M_TRUSTED_PROXIES); default none. */
  trustedProxies?: TrustedProxies | undefined;
  /** observe is told of each answer logged here (not RPCs, not the OAuth endpoints), with its duration in seconds. */
  observe?: ((req: HttpRequest, res: HttpResponse, path: string, seconds: number) => void) | undefined;
}

/** HttpHandler is the request listener of both the HTTP/1.1 and the HTTP/2 server. */
export type HttpHandler = (req: HttpRequest, res: HttpResponse) => void;

// An RPC path is /package.Service/Method; everything else is one of our HTTP routes.
const rpcPath = /^\/[A-Za-z_][\w.]*\.[A-Za-z_]\w*\/[A-Za-z_]\w*$/;

/**
 * createHttpHandler routes a request: RPCs to the connect adapter (logged by its interceptor),
 * the OAuth endpoints (`/oauth/token`, `/oauth/introspect`, `/oauth/revoke`; each logs its own outcome), the rest to the REST and
 * discovery routes, logged here: each answer once, a 5xx with its cause.
 */
export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const { rpc, management, discovery, console: consoleRoutes, cors, logger, observe } = options;
  const proxies = options.trustedProxies ?? noTrustedProxies;
  const oauth = new Map([
    ["/oauth/token", options.token],
    ["/oauth/introspect", options.introspect],
    ["/oauth/revoke", options.revoke],
  ]);
  return (req, res) => {
    // Before any route: a preflight from an allowed origin is answered here, whatever the path.
    if (cors?.handle(req, res) === true) return;
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    // Every answer names its request, so a caller can quote the id an operator finds in the logs.
    const origin = createOrigin(req, proxies);
    // The OAuth endpoints name the request in their answers' own headers (oauth-endpoint.ts).
    const endpoint = oauth.get(path);
    if (endpoint !== undefined) {
      endpoint(req, res, origin).catch((err: unknown) => logger.error({ err, path }, "OAuth endpoint failed"));
      return;
    }
    res.setHeader("x-request-id", origin.requestId);
    // The RPC adapter reads it again for the call's context values (server.ts).
    if (rpcPath.test(path)) return (keepOrigin(req, origin), rpc(req, res));
    const start = performance.now();
    // One line per answer, when it is sent; a 5xx at `error`, with the cause its route recorded.
    const slot: FaultSlot = { origin };
    res.once("finish", () => {
      const elapsed = performance.now() - start;
      observe?.(req, res, path, elapsed / 1000);
      const line = { method: req.method, path, status: res.statusCode, ms: Math.round(elapsed) };
      if (res.statusCode >= 500) logger.error({ ...line, err: slot.cause }, "http");
      // Probes and scrapes come every few seconds from every balancer and Prometheus: at info they would bury the log.
      else if (probePaths.includes(path) || path === metricsPath) logger.debug(line, "http");
      else logger.info(line, "http");
    });
    withFaultSlot(slot, async () => {
      // The URL's host is a placeholder: only path and query are read, never a Host header.
      const url = new URL(req.url ?? "/", "http://localhost");
      if ((await management(req, res, url)) || (await discovery(req, res, url)) || (await consoleRoutes?.(req, res, url)) === true) return;
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
