import { context, type Span } from "@opentelemetry/api";
import { jwksPaths, metadataPaths, metricsPath, probePaths } from "../http/discovery-routes.js";
import type { HttpRequest, HttpResponse } from "../http/exchange.js";
import { sendMethodNotAllowed } from "../http/http-errors.js";
import type { OAuthRoute } from "../http/http-handler.js";
import { clientsPath, type ManagementRoutes } from "../http/management-routes.js";
import { resourceServersPath } from "../http/resource-server-routes.js";
import { revocationListPath } from "../http/revocation-list.js";
import type { Metrics } from "./metrics.js";
import { endSpan, nodeHeaders, startServerSpan } from "./tracing.js";

// The HTTP side of telemetry: a request's route as a bounded pattern, the OAuth endpoints' spans
// and durations, the other routes' durations, and GET /metrics itself.

const fixedRoutes = new Set([
  "/oauth/token",
  "/oauth/introspect",
  "/oauth/revoke",
  revocationListPath,
  ...jwksPaths,
  ...metadataPaths,
  ...probePaths,
  metricsPath,
]);

/**
 * routeOf names a request path by its route's pattern, never by the path itself (which carries
 * ids, and whatever a scanner tries): a metric label must have a bounded set of values.
 */
export function routeOf(path: string): string {
  if (fixedRoutes.has(path)) return path;
  const clients = clientsPath.exec(path);
  if (clients !== null) {
    let route = "/api/v1/organizations/{organization_id}/clients";
    if (clients[2] !== undefined) route += "/{client_id}";
    if (clients[3] !== undefined) route += "/secrets";
    if (clients[4] !== undefined) route += "/{secret_id}";
    return route;
  }
  const servers = resourceServersPath.exec(path);
  if (servers !== null) return servers[1] === undefined ? "/api/v1/resource-servers" : "/api/v1/resource-servers/{id}";
  return "other";
}

/** observeHttp returns what the HTTP handler calls when an answer (not an RPC's) is sent. */
export function observeHttp(metrics: Metrics): (req: HttpRequest, res: HttpResponse, path: string, seconds: number) => void {
  const jwks = new Set(jwksPaths);
  return (req, res, path, seconds) => {
    const route = routeOf(path);
    metrics.httpRequest(route, req.method, res.statusCode, seconds);
    if (jwks.has(route) && res.statusCode === 200) metrics.jwksRequest();
  };
}

/** endHttpSpan ends a request's server span with its status code: a 5xx is the server's error, a 4xx the client's (OTel's HTTP convention). */
function endHttpSpan(span: Span, status: number): void {
  span.setAttribute("http.response.status_code", status);
  endSpan(span, status >= 500 ? new Error("server error") : undefined, status >= 500 ? String(status) : undefined);
}

/**
 * observeOAuthRoute returns `route` (an OAuth endpoint at `path`) timed into the HTTP duration
 * histogram and run inside its server span, named `POST /oauth/token` (OTel's HTTP convention:
 * method and route), continuing the caller's trace from its `traceparent`.
 */
export function observeOAuthRoute(path: string, route: OAuthRoute, metrics: Metrics): OAuthRoute {
  const attributes = { "http.route": path };
  return async (req, res, origin) => {
    const start = performance.now();
    const method = req.method ?? "GET";
    const { span, context: active } = startServerSpan(`${method} ${path}`, attributes, req.headers, nodeHeaders);
    try {
      // No closure per request: the route and its arguments are handed to the context manager.
      await (active === undefined ? route(req, res, origin) : context.with(active, route, undefined, req, res, origin));
    } finally {
      endHttpSpan(span, res.statusCode);
      metrics.httpRequest(path, method, res.statusCode, (performance.now() - start) / 1000);
    }
  };
}

/**
 * traceRestRoutes returns `routes` (the REST API's) with each request they take run inside a
 * server span named by method and route pattern (`PATCH /api/v1/resource-servers/{id}`),
 * continuing the caller's trace, so the in-process RPC's store calls are its children. A REST
 * call is an RPC inside, but over the in-process transport, which has no telemetry interceptor.
 */
export function traceRestRoutes(routes: ManagementRoutes): ManagementRoutes {
  return async (req, res, url) => {
    const route = routeOf(url.pathname);
    // Only the API's own paths: a span for every scanner's guess would be noise, and unbounded.
    if (!route.startsWith("/api/")) return routes(req, res, url);
    const method = req.method ?? "GET";
    const { span, context: active } = startServerSpan(`${method} ${route}`, { "http.route": route }, req.headers, nodeHeaders);
    try {
      return await (active === undefined ? routes(req, res, url) : context.with(active, routes, undefined, req, res, url));
    } finally {
      endHttpSpan(span, res.statusCode);
    }
  };
}

/** createMetricsRoute returns the `GET /metrics` route over `scrape` (this process's, or every worker's). */
export function createMetricsRoute(scrape: () => Promise<string>, contentType: string) {
  return async (req: HttpRequest, res: HttpResponse, url: URL): Promise<boolean> => {
    if (url.pathname !== metricsPath) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendMethodNotAllowed(res, req.method, "GET, HEAD");
      return true;
    }
    const text = await scrape();
    res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
    if (req.method === "HEAD") res.end();
    else res.end(text);
    return true;
  };
}
