import { SigningKeyService } from "../gen/m2mauth/v1/keys_pb.js";
import { createClientService } from "./clients/client-service.js";
import { createPageTokens } from "./clients/page-token.js";
import { createAuditLog } from "./audit.js";
import { createClientAuthentication } from "./client-authentication.js";
import { createResourceServerService } from "./clients/resource-server-service.js";
import { createListener } from "./http/listener.js";
import { loadIssuerState } from "./issuer-state.js";
import type { KeyRing } from "./keys/key-ring.js";
import { createReadiness, type Readiness } from "./readiness.js";
import { createAddressRateLimit, defaultValidateTokenPerSecond } from "./tokens/address-rate-limit.js";
import { createTokenIntrospector } from "./tokens/introspection.js";
import { createTokenService } from "./tokens/token-service.js";
import { createTokenValidator } from "./tokens/token-validator.js";
import { createUsageRecorder } from "./tokens/usage-recorder.js";
import { readTlsFiles } from "./http/tls-files.js";
import { createServerRoutes } from "./server-routes.js";
import { checkServerOptions, readServerTls, type M2MServerOptions } from "./server-options.js";
import { createMetrics, type Metrics } from "./telemetry/metrics.js";
import { instrumentStore } from "./telemetry/store-telemetry.js";
import { traceSigning } from "./telemetry/token-telemetry.js";

export type { M2MServerOptions } from "./server-options.js";

/** M2MServer is a composed, not yet listening, token service. */
export interface M2MServer {
  /** listen starts accepting connections on the configured host and port. */
  listen(): Promise<{ url: string; port: number }>;
  /**
   * close stops the server: readiness fails at once (`draining`); for `drainMs` (default 0) the
   * listener keeps serving while it asks clients to leave (Listener.drain); then it stops
   * accepting, finishes in-flight calls, and resolves when all are done. Later calls return the
   * same promise.
   */
  close(options?: { drainMs?: number }): Promise<void>;
  /** keyRing is the issuer's key ring. */
  readonly keyRing: KeyRing;
  /** readiness is what `/readyz` reports: the store's health, draining, and what else sets it. */
  readonly readiness: Readiness;
  /** adminCredentials are set on the one start that bootstrapped the admin client: show once. */
  readonly adminCredentials: { clientId: string; clientSecret: string } | undefined;
  /**
   * reloadTls reads options.tls's files again and serves new connections with them (open ones
   * keep theirs); it throws, keeping the old pair, when they are unusable or there is no TLS.
   */
  reloadTls(): { fingerprint256: string; validTo: string };
  /** metrics are what this server counts (options.metrics, or a registry of its own). */
  readonly metrics: Metrics;
}

/** whileIntact wraps every method of a service so it first checks `assertIntact` (which throws to refuse). */
function whileIntact<T extends object>(service: T, assertIntact: () => void): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service) as [string, unknown][]) {
    guarded[name] =
      typeof method === "function" ? async (...args: unknown[]) => (assertIntact(), (method as (...a: unknown[]) => unknown).apply(service, args)) : method;
  }
  return guarded as T;
}

/**
 * createM2MServer composes the service: store → keys → clients and tokens → RPC and HTTP routes →
 * one listener. The management API is protected by the project's own auth interceptor, like any
 * service that installs it, for RPC and REST alike.
 */
export async function createM2MServer(options: M2MServerOptions): Promise<M2MServer> {
  checkServerOptions(options);
  const tls = readServerTls(options);
  const { logger, issuer } = options;
  // Every store call is timed and traced here, at composition: the backends know nothing of it.
  const metrics = options.metrics ?? createMetrics();
  const store = instrumentStore(options.store, metrics);
  const now = options.now ?? Date.now;
  const readiness = options.readiness ?? createReadiness();
  const audit = options.audit ?? createAuditLog({ logger });
  const state = await loadIssuerState({
    store,
    issuer,
    signingAlg: options.signingAlg,
    admin: options.admin,
    keyEncryptionKey: options.keyEncryptionKey,
    secretHashKey: options.secretHashKey,
    allowEvictingStore: options.allowEvictingStore,
    keyRotationDays: options.keyRotationDays,
    keyReloadIntervalMs: options.keyReloadIntervalMs,
    keyRotationCheckIntervalMs: options.keyRotationCheckIntervalMs,
    jwksMaxAgeSeconds: options.jwksMaxAgeSeconds,
    // Only the instance that rotated is told: the others adopt its ring on their next reload.
    onScheduledRotation: (key) =>
      audit.record({
        action: SigningKeyService.method.rotateSigningKey.name,
        outcome: "success",
        actor: { system: "key-rotation-schedule" },
        target: { keyId: key.kid },
      }),
    readiness,
    now,
    logger,
  });
  const { hasher, keyRing, watch } = state;
  // While the store is known to be down every call that needs it fails at once: a balancer
  // should send this process nothing it cannot answer.
  const stopHealth = store.onHealth?.((reachable) => readiness.set("store", reachable ? undefined : "unreachable"));

  // While the store does not hold this process's state, it issues no token and manages no client:
  // serving from its own copy would accept what another instance refuses (see state/state-watch.ts).
  const pageTokens = createPageTokens({ key: hasher.derive("page-token") });
  const clients = whileIntact(
    createClientService({
      store: store.clients,
      hasher,
      pageTokens,
      issuer,
      keyEncryptionKey: options.keyEncryptionKey,
      now,
      federatedIssuers: options.federatedIssuers,
      clientJwksOrigins: options.clientJwksOrigins,
      resourceServers: store.resourceServers,
    }),
    () => watch.assertIntact(),
  );
  // The registry of APIs that bounds every client's grants (grant-rules.ts).
  const resourceServers = whileIntact(createResourceServerService({ store: store.resourceServers, clients: store.clients, pageTokens, issuer, now }), () =>
    watch.assertIntact(),
  );
  // How a client proves itself: secrets (through the token path's record cache), its keys, a
  // federated identity; failures counted and audited (client-authentication.ts).
  const { authenticator, cache } = createClientAuthentication({ options: { ...options, store }, hasher, systemClients: state.systemClients, audit, now });
  const validateLimit = createAddressRateLimit({ perSecond: options.validateTokenPerSecond ?? defaultValidateTokenPerSecond, what: "ValidateToken", now });
  // Secrets' last_used_time is written in batches, off the token path (no extra round trip).
  const usage = createUsageRecorder({
    store: store.clients,
    logger,
    now,
    ...(options.usageFlushIntervalMs !== undefined ? { flushIntervalMs: options.usageFlushIntervalMs } : {}),
  });
  const tokens = whileIntact(
    createTokenService({ authenticator, keyRing: traceSigning(keyRing), issuer, now, usage, signOnThreadPool: options.signOnThreadPool ?? false }),
    () => watch.assertIntact(),
  );
  // ValidateToken and introspection read the deny list on every call: a revocation on any
  // instance counts at once.
  const validator = createTokenValidator({ issuer, keys: () => keyRing.jwks(), clock: now, revocations: store.revocations });
  // Introspection reads the store itself, not the record cache: a deleted client's tokens are
  // inactive at once. Like token issuance, it answers nothing while the store lost our state.
  const introspector = whileIntact(
    createTokenIntrospector({ validator, clients: store.clients, systemClients: state.systemClients, revocations: store.revocations, now }),
    () => watch.assertIntact(),
  );

  // Every transport serves these same services (server-routes.ts).
  const services = { clients, resourceServers, tokens, validator, introspector, authenticator, validateLimit };
  const routes = createServerRoutes({ options, store, state, readiness, audit, metrics, now, ...services });
  const listener = createListener({
    handler: routes.handler,
    host: options.host,
    port: options.port,
    reserved: options.reservedPort,
    tls,
    onError: (err) => logger.debug({ err: err instanceof Error ? err.message : String(err) }, "connection error"),
  });
  let closed: Promise<void> | undefined;
  async function close(drainMs: number): Promise<void> {
    // Balancers polling /readyz stop sending new work here; until drainMs is over, what they
    // still send (their checks lag) is served rather than refused.
    readiness.set("draining", "shutting down");
    if (drainMs > 0) {
      logger.info({ drainMs }, "draining: not ready, still serving");
      listener.drain();
      await new Promise((resolve) => setTimeout(resolve, drainMs));
    }
    // Health watches never end by themselves; they have told their clients NOT_SERVING already.
    routes.close();
    await listener.close();
    stopHealth?.();
    await usage.close();
    await state.close();
    await cache?.close();
  }
  return {
    listen: () => listener.listen(),
    close(closeOptions = {}) {
      closed ??= close(closeOptions.drainMs ?? 0);
      return closed;
    },
    keyRing,
    readiness,
    adminCredentials: state.adminCredentials,
    metrics,
    reloadTls() {
      if (options.tls === undefined) throw new Error("no TLS is configured");
      const { fingerprint256, validTo, ...credentials } = readTlsFiles(options.tls);
      listener.setTlsCredentials(credentials);
      return { fingerprint256, validTo };
    },
  };
}
