import type { KeyRing } from "../keys/key-ring.js";
import { notReadyReasons, type Readiness } from "../readiness.js";
import { sendJson, type HttpRequest, type HttpResponse } from "./exchange.js";
import { recordFault } from "./request-fault.js";

/** DiscoveryRoutes serves the public, read-only documents: JWKS, RFC 8414 metadata, health. */
export type DiscoveryRoutes = (req: HttpRequest, res: HttpResponse, url: URL) => Promise<boolean>;

/** DiscoveryOptions configures createDiscoveryRoutes. */
export interface DiscoveryOptions {
  issuer: string;
  keyRing: KeyRing;
  /** ping resolves when the store answers; health checks call it. */
  ping: () => Promise<void>;
  /** readiness holds the conditions `/readyz` reports besides the store's answer. */
  readiness: Readiness;
}

/** jwksPaths are where the JWKS is served: the seed's `/keys` and the conventional well-known path. */
export const jwksPaths: readonly string[] = ["/keys", "/.well-known/jwks.json"];

/** createDiscoveryRoutes returns the JWKS, metadata and health routes. */
export function createDiscoveryRoutes(options: DiscoveryOptions): DiscoveryRoutes {
  const { keyRing, ping, readiness } = options;
  const base = options.issuer.replace(/\/+$/, "");
  // The key ring's: rotations wait this long after publishing a key, so cached sets hold it.
  const jwksCache = `public, max-age=${keyRing.jwksMaxAgeSeconds}`;
  // RFC 8414 §2: what a client needs to find the token endpoint and the keys.
  const metadata = {
    issuer: options.issuer,
    token_endpoint: `${base}/oauth/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    response_types_supported: [],
  };
  return async (req, res, url) => {
    const path = url.pathname;
    const known =
      jwksPaths.includes(path) || path === "/.well-known/oauth-authorization-server" || path === "/healthz" || path === "/readyz" || path === "/livez";
    if (!known) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(res, 405, { error: "invalid_request", error_description: "use GET" }, { allow: "GET, HEAD" });
    } else if (path === "/livez") {
      // Liveness: the process answers. Nothing outside it is asked, so an orchestrator never
      // restarts a healthy process because Redis is down (that is /readyz's business).
      sendJson(res, 200, { status: "live" }, { "cache-control": "no-store" });
    } else if (path === "/healthz") {
      try {
        await ping();
        sendJson(res, 200, { status: "ok" }, { "cache-control": "no-store" });
      } catch (err) {
        recordFault(err);
        sendJson(res, 503, { status: "unavailable" }, { "cache-control": "no-store", "retry-after": "1" });
      }
    } else if (path === "/readyz") {
      // Whether a balancer should send this process new traffic: every condition clear, and the
      // store answering now.
      const reasons = await notReadyReasons(readiness, ping, recordFault);
      if (reasons.length === 0) {
        sendJson(res, 200, { status: "ready" }, { "cache-control": "no-store" });
      } else {
        // A condition (draining, a lost store state) is itself the cause of the 503.
        recordFault(new Error(`not ready: ${reasons.join("; ")}`));
        sendJson(res, 503, { status: "not_ready", reasons }, { "cache-control": "no-store", "retry-after": "1" });
      }
    } else if (path === "/.well-known/oauth-authorization-server") {
      sendJson(res, 200, metadata, { "cache-control": "public, max-age=3600" });
    } else {
      sendJson(res, 200, keyRing.jwks(), { "cache-control": jwksCache, "content-type": "application/jwk-set+json" });
    }
    return true;
  };
}
