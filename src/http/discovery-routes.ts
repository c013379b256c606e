import { getOption } from "@bufbuild/protobuf";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";
import { required_scopes } from "../../gen/m2mauth/v1/options_pb.js";
import { ResourceServerService } from "../../gen/m2mauth/v1/resource_servers_pb.js";
import type { KeyRing } from "../keys/key-ring.js";
import { clientAssertionAlgorithms } from "../rules.js";
import { notReadyReasons, type Readiness } from "../readiness.js";
import type { RevocationStore } from "../store/client-store.js";
import { sendJson, type HttpRequest, type HttpResponse } from "./exchange.js";
import { recordFault } from "./request-fault.js";
import { revocationListPath, serveRevocationList } from "./revocation-list.js";

/** DiscoveryRoutes serves the public, read-only documents: JWKS, RFC 8414 metadata (at two paths), health. */
export type DiscoveryRoutes = (req: HttpRequest, res: HttpResponse, url: URL) => Promise<boolean>;

/** DiscoveryOptions configures createDiscoveryRoutes. */
export interface DiscoveryOptions {
  issuer: string;
  keyRing: KeyRing;
  /** ping resolves when the store answers; health checks call it. */
  ping: () => Promise<void>;
  /** readiness holds the conditions `/readyz` reports besides the store's answer. */
  readiness: Readiness;
  /** revocations lists the revoked tokens' ids served at `/oauth/revoked`. */
  revocations: Pick<RevocationStore, "list">;
}

/** jwksPaths are where the JWKS is served: the seed's `/keys` and the conventional well-known path. */
export const jwksPaths: readonly string[] = ["/keys", "/.well-known/jwks.json"];

/** metadataPaths serve the one metadata document: RFC 8414's path and OpenID Connect Discovery's, which many clients try first. */
export const metadataPaths: readonly string[] = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];

/**
 * managementScopes are the scopes the management API's methods require, read from their
 * `(m2mauth.v1.required_scopes)` options: what the server enforces, so the list cannot drift.
 * Scopes registered for clients are the tenants' own and are not published (RFC 8414 §2 allows
 * a partial list).
 */
export function managementScopes(): string[] {
  const scopes = [OrganizationClientService, SigningKeyService, ResourceServerService].flatMap((service) =>
    service.methods.flatMap((method) => getOption(method, required_scopes)),
  );
  return [...new Set(scopes)].sort();
}

// How a client authenticates at each of the three endpoints: the same ways everywhere, since one
// function reads the credentials for all of them (oauth-endpoint.ts).
const authMethods = ["client_secret_basic", "client_secret_post", "private_key_jwt"];

/** probePaths are the health probes' paths: polled every few seconds, so their answers are logged at `debug`. */
export const probePaths: readonly string[] = ["/healthz", "/readyz", "/livez"];

/** metricsPath is where the Prometheus text is served (src/telemetry); scraped as often as the probes. */
export const metricsPath = "/metrics";

/** createDiscoveryRoutes returns the JWKS, metadata and health routes. */
export function createDiscoveryRoutes(options: DiscoveryOptions): DiscoveryRoutes {
  const { keyRing, ping, readiness, revocations } = options;
  const base = options.issuer.replace(/\/+$/, "");
  // The key ring's: rotations wait this long after publishing a key, so cached sets hold it.
  const jwksCache = `public, max-age=${keyRing.jwksMaxAgeSeconds}`;
  // RFC 8414 §2: what a client needs to find the endpoints and the keys. We issue access tokens
  // only, no ID tokens: `response_types_supported` is empty (no authorization endpoint), and the
  // OpenID-only fields (`id_token_signing_alg_values_supported`, `subject_types_supported`) are
  // left out, as RFC 8414 §2 lets a server omit what it does not support; the OpenID path serves
  // this same document so clients that look only there (openid-client, Spring) find it.
  const metadata = Object.freeze({
    issuer: options.issuer,
    token_endpoint: `${base}/oauth/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/oauth/introspect`,
    revocation_endpoint: `${base}/oauth/revoke`,
    scopes_supported: managementScopes(),
    response_types_supported: [],
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: authMethods,
    // private_key_jwt assertions: asymmetric algorithms only (RFC 8725 §3.1, rules.ts).
    token_endpoint_auth_signing_alg_values_supported: clientAssertionAlgorithms,
    introspection_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_signing_alg_values_supported: clientAssertionAlgorithms,
    revocation_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_signing_alg_values_supported: clientAssertionAlgorithms,
    // Our extension, no RFC's: the list of revoked, unexpired token ids that verifiers may pull.
    revocation_list_uri: `${base}${revocationListPath}`,
  });
  return async (req, res, url) => {
    const path = url.pathname;
    const known = jwksPaths.includes(path) || metadataPaths.includes(path) || probePaths.includes(path) || path === revocationListPath;
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
    } else if (path === revocationListPath) {
      await serveRevocationList(res, revocations);
    } else if (metadataPaths.includes(path)) {
      sendJson(res, 200, metadata, { "cache-control": "public, max-age=3600" });
    } else {
      sendJson(res, 200, keyRing.jwks(), { "cache-control": jwksCache, "content-type": "application/jwk-set+json" });
    }
    return true;
  };
}
