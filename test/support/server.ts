import { pino, type Logger } from "pino";
import { createM2MServer, type M2MServer, type M2MServerOptions } from "../../src/server.js";
import type { SigningAlgorithm } from "../../src/keys/algorithms.js";
import type { Store } from "../../src/store/client-store.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "./redis.js";

/** TestServer is a real server on a random loopback port, with admin credentials to use. */
export interface TestServer {
  url: string;
  issuer: string;
  admin: { clientId: string; clientSecret: string };
  server: M2MServer;
  store: Store;
  close(): Promise<void>;
}

/** adminTestSecret is the admin secret test servers are configured with. */
export const adminTestSecret = "test-admin-secret-0123456789abcdefghijklmnop";

/** startTestServer starts a server over a fresh Redis prefix (or the memory store). */
export async function startTestServer(
  options: {
    backend?: "redis" | "memory";
    alg?: SigningAlgorithm;
    now?: () => number;
    store?: Store;
    admin?: boolean;
    usageFlushIntervalMs?: number;
    /** clientCacheMs is the token path's record cache (M2M_CLIENT_CACHE_MS); default 500, as in production. */
    clientCacheMs?: number;
    /** keys passes the key ring's options through (reload interval, encryption, rotation, the secret-hash key). */
    keys?: Pick<
      M2MServerOptions,
      "keyEncryptionKey" | "keyRotationDays" | "keyReloadIntervalMs" | "keyRotationCheckIntervalMs" | "jwksMaxAgeSeconds" | "secretHashKey"
    >;
    /** logger receives the server's log; default silent. */
    logger?: Logger;
    /** federated passes workload identity federation's options through (M2M_FEDERATED_ISSUERS and how they are read). */
    federated?: Pick<M2MServerOptions, "federatedIssuers" | "federatedFetch">;
    /** clientJwks passes the jwks_uri options through (M2M_CLIENT_JWKS_ORIGINS and how documents are read). */
    clientJwks?: Pick<M2MServerOptions, "clientJwksOrigins" | "clientJwksFetch">;
    /**
     * authFailures are the failed-authentication limits; default off here (many tests fail on
     * purpose from one address), the throttling tests set them.
     */
    authFailures?: M2MServerOptions["authFailures"];
    /** validateTokenPerSecond bounds ValidateToken per address; default 0 (off) here, as authFailures. */
    validateTokenPerSecond?: number;
    /** audit receives the audit events; default the server's log. */
    audit?: M2MServerOptions["audit"];
    /** trustedProxies lets a test name source addresses in X-Forwarded-For (M2M_TRUSTED_PROXIES). */
    trustedProxies?: readonly string[];
    /** console passes the admin console's options through (served or not, and from which folder). */
    console?: Pick<M2MServerOptions, "console" | "consoleDir">;
    /** metrics passes the server's metrics (METRICS_CLIENT_LABELS) and GET /metrics's answer through. */
    metrics?: Pick<M2MServerOptions, "metrics" | "metricsScrape">;
  } = {},
): Promise<TestServer> {
  const store =
    options.store ??
    (options.backend === "memory"
      ? createMemoryStore(options.now ? { now: options.now } : {})
      : createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() }));
  // The issuer is fixed before the port is known, as in production where it is configured.
  const issuer = "http://m2m-auth.test";
  const admin = { clientId: "test-admin", clientSecret: adminTestSecret };
  const server = await createM2MServer({
    host: "127.0.0.1",
    port: 0,
    issuer,
    signingAlg: options.alg ?? "RS256",
    admin: options.admin === false ? undefined : admin,
    store,
    logger: options.logger ?? pino({ level: "silent" }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.usageFlushIntervalMs !== undefined ? { usageFlushIntervalMs: options.usageFlushIntervalMs } : {}),
    clientCacheMs: options.clientCacheMs ?? 500,
    authFailures: options.authFailures ?? { windowSeconds: 60, perClientAddress: 0, perClient: 0, perAddress: 0 },
    validateTokenPerSecond: options.validateTokenPerSecond ?? 0,
    ...(options.audit !== undefined ? { audit: options.audit } : {}),
    ...(options.trustedProxies !== undefined ? { trustedProxies: options.trustedProxies } : {}),
    ...options.keys,
    ...options.federated,
    ...options.clientJwks,
    ...options.console,
    ...options.metrics,
  });
  const { url } = await server.listen();
  return {
    url,
    issuer,
    admin: options.admin === false && server.adminCredentials ? server.adminCredentials : admin,
    server,
    store,
    async close() {
      await server.close();
      if (!options.store) await store.close();
    },
  };
}

/** getToken asks the token endpoint for a token with client_secret_post; it throws on an error. */
export async function getToken(url: string, clientId: string, clientSecret: string, extra: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, ...extra }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** seedClient is the registration body of the seed's walk-through. */
export const seedClient = {
  name: "GitHub Actions Deployment Service",
  description: "Service account for GitHub Actions to deploy applications to production",
  custom_claims: [
    { key: "github_repository", value: "acmecorp/inventory-service" },
    { key: "environment", value: "production_us" },
  ],
  scopes: ["deploy:applications", "read:deployments"],
  audience: ["deployment-api.acmecorp.com"],
  expiry: 3600,
};
