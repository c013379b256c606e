import type { HttpRequest, HttpResponse } from "./exchange.js";

// Opt-in CORS (Fetch standard, "CORS protocol") for browsers on other origins: Connect, gRPC-Web,
// the OAuth endpoints and REST all answer on one port, so one policy covers every path. Credentials
// are bearer tokens a page sends in `Authorization`, never cookies: no response ever carries
// `Access-Control-Allow-Credentials`, which is also what makes `*` acceptable (a page can only send
// a token it already holds; the browser refuses `*` with credentials anyway).

// What connect-es documents for cross-origin Connect and gRPC-Web (@connectrpc/cors), plus what
// the OAuth endpoints and REST use: PATCH and DELETE, `Authorization`, `Idempotency-Key`.
const allowedMethods = ["GET", "POST", "PATCH", "DELETE"];
const allowedHeaders = [
  "Content-Type",
  "Connect-Protocol-Version",
  "Connect-Timeout-Ms",
  "Grpc-Timeout",
  "X-Grpc-Web",
  "X-User-Agent",
  "Authorization",
  "Idempotency-Key",
];
// A script may read only these beyond the CORS-safelisted ones: gRPC-Web's status and details
// (for a trailers-only answer they are headers), our error reason, the RFC 6750 §3 challenge,
// the 503's Retry-After and a replayed create's marker.
const exposedHeaders = ["Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "M2M-Error-Reason", "WWW-Authenticate", "Retry-After", "Idempotent-Replayed"];

/** corsMaxAgeSeconds is how long a browser may reuse a preflight's answer (Chromium caps it at 7200). */
export const corsMaxAgeSeconds = 7200;

/** CorsOptions are the origins allowed to call (exact serialized origins), or `["*"]` for any. */
export interface CorsOptions {
  origins: readonly string[];
}

/** Cors applies the policy to one request. */
export interface Cors {
  /**
   * handle adds the CORS headers a request from an allowed origin gets; it answers a preflight
   * (`OPTIONS` with `Access-Control-Request-Method`) from one itself, 204, and then returns true.
   * A request from any other origin is left exactly as without CORS.
   */
  handle(req: HttpRequest, res: HttpResponse): boolean;
}

/** createCors makes the policy for `options.origins`. */
export function createCors(options: CorsOptions): Cors {
  const anyOrigin = options.origins.includes("*");
  const allowed = new Set(options.origins);
  return {
    handle(req, res) {
      // The answer depends on Origin unless every origin gets the same one: caches must know.
      if (!anyOrigin) res.setHeader("Vary", "Origin");
      const origin = req.headers.origin;
      if (origin === undefined || !(anyOrigin || allowed.has(origin))) return false;
      res.setHeader("Access-Control-Allow-Origin", anyOrigin ? "*" : origin);
      if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
        res.writeHead(204, {
          "Access-Control-Allow-Methods": allowedMethods.join(", "),
          "Access-Control-Allow-Headers": allowedHeaders.join(", "),
          "Access-Control-Max-Age": String(corsMaxAgeSeconds),
        });
        res.end();
        return true;
      }
      res.setHeader("Access-Control-Expose-Headers", exposedHeaders.join(", "));
      return false;
    },
  };
}
