import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { createContextValues, createRouterTransport } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { OrganizationClientService } from "../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyService } from "../gen/m2mauth/v1/keys_pb.js";
import { ResourceServerService } from "../gen/m2mauth/v1/resource_servers_pb.js";
import { TokenService } from "../gen/m2mauth/v1/tokens_pb.js";
import { createClientService } from "./clients/client-service.js";
import { createPageTokens } from "./clients/page-token.js";
import { createAuditLog } from "./audit.js";
import { createClientAuthentication } from "./client-authentication.js";
import { createResourceServerService } from "./clients/resource-server-service.js";
import { createConsoleRoutes } from "./http/console-routes.js";
import { createCors } from "./http/cors.js";
import { createDiscoveryRoutes } from "./http/discovery-routes.js";
import { createHttpHandler } from "./http/http-handler.js";
import { createListener } from "./http/listener.js";
import { createManagementRoutes, type ManagementRoutes } from "./http/management-routes.js";
import { createResourceServerRoutes } from "./http/resource-server-routes.js";
import { faultInterceptor } from "./http/request-fault.js";
import { createTrustedProxies, originOfRequest } from "./http/request-origin.js";
import { requestOriginKey } from "./rpc/request-origin.js";
import { createIntrospectionEndpoint, createRevocationEndpoint } from "./http/introspection-endpoints.js";
import { oauthEndpointLog } from "./http/oauth-endpoint.js";
import { createTokenEndpoint } from "./http/token-endpoint.js";
import { createAuthInterceptor } from "./interceptor/index.js";
import { loadIssuerState } from "./issuer-state.js";
import type { KeyRing } from "./keys/key-ring.js";
import { createAuditInterceptor } from "./rpc/audit-interceptor.js";
import { createCallerCheck } from "./rpc/caller-check.js";
import { errorInterceptor } from "./rpc/connect-errors.js";
import { createHealthRpc } from "./rpc/health-rpc.js";
import { createLoggingInterceptor } from "./rpc/logging-interceptor.js";
import { withParseErrorAnswers } from "./rpc/parse-errors.js";
import { createOrganizationClientRpc } from "./rpc/organization-client-rpc.js";
import { createReflectionRpc } from "./rpc/reflection-rpc.js";
import { createResourceServerRpc } from "./rpc/resource-server-rpc.js";
import { createSigningKeyRpc } from "./rpc/signing-key-rpc.js";
import { createTokenRpc } from "./rpc/token-rpc.js";
import { createReadiness, type Readiness } from "./readiness.js";
import { createAddressRateLimit, defaultValidateTokenPerSecond } from "./tokens/address-rate-limit.js";
import { createTokenIntrospector } from "./tokens/introspection.js";
import { createTokenService } from "./tokens/token-service.js";
import { createTokenValidator } from "./tokens/token-validator.js";
import { createUsageRecorder } from "./tokens/usage-recorder.js";
import { readTlsFiles } from "./http/tls-files.js";
import { checkServerOptions, readServerTls, type M2MServerOptions } from "./server-options.js";
import { createMetricsRoute, observeHttp, observeOAuthRoute } from "./telemetry/http-telemetry.js";
import { createMetrics, type Metrics } from "./telemetry/metrics.js";
import { createTelemetryInterceptor } from "./telemetry/rpc-telemetry.js";
import { instrumentStore } from "./telemetry/store-telemetry.js";
import { countTokenEndpoint, countTokenIssue, traceSigning } from "./telemetry/token-telemetry.js";

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

/**
 * publicProcedures are the RPCs that need no access token: how one gets a token, and what probes
 * and tools ask before they have one (health; reflection, which shows only the public contract).
 */
export const publicProcedures: readonly string[] = [
  `/${TokenService.typeName}/${TokenService.method.issueToken.name}`,
  `/${TokenService.typeName}/${TokenService.method.validateToken.name}`,
  // These two authenticate the client by the credentials in the message, as IssueToken does.
  `/${TokenService.typeName}/${TokenService.method.introspectToken.name}`,
  `/${TokenService.typeName}/${TokenService.method.revokeToken.name}`,
  ...[Health, ServerReflectionV1, ServerReflectionV1alpha].flatMap((service) => service.methods.map((method) => `/${service.typeName}/${method.name}`)),
];

/** whileIntact wraps every method of a service so it first checks `assertIntact` (which throws to refuse). */
function whileIntact<T extends object>(service: T, assertIntact: () => void): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service) as [string, unknown][]) {
    guarded[name] =
      typeof method === "function" ? async (...args: unknown[]) => (assertIntact(), (method as (...a: unknown[]) => unknown).apply(service, args)) : method;
  }
  return guarded as T;
}

/** anyOf tries REST route sets in turn: the first that takes the path answers. */
function anyOf(...routes: ManagementRoutes[]): ManagementRoutes {
  return async (req, res, url) => {
    for (const route of routes) if (await route(req, res, url)) return true;
    return false;
  };
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

  const ping = () => store.ping();
  const ours = [OrganizationClientService, TokenService, SigningKeyService, ResourceServerService];
  // grpc.health.v1 answers what /readyz answers, for each of our services and overall ("").
  const health = createHealthRpc({ readiness, ping, services: ours.map((service) => service.typeName) });
  // Reflection lists every service served here, itself included (as grpc-go's does).
  const reflection = options.reflection === false ? undefined : createReflectionRpc([...ours, Health, ServerReflectionV1, ServerReflectionV1alpha]);
  // A protobuf body that does not parse fails before any interceptor: the handlers log it and
  // answer InvalidArgument (rpc/parse-errors.ts). REST's in-process calls, serialized by our own
  // client, never meet it.
  const routes = withParseErrorAnswers((router: ConnectRouter) => {
    router.service(OrganizationClientService, createOrganizationClientRpc(clients));
    router.service(TokenService, createTokenRpc(countTokenIssue(tokens, metrics, keyRing), validator, { authenticator, introspector, validateLimit }));
    router.service(SigningKeyService, createSigningKeyRpc(keyRing));
    router.service(ResourceServerService, createResourceServerRpc(resourceServers));
    router.service(Health, health.service);
    if (reflection !== undefined) {
      router.service(ServerReflectionV1, reflection.v1);
      router.service(ServerReflectionV1alpha, reflection.v1alpha);
    }
  }, logger);
  // The management API's audience is the issuer URL itself.
  const auth = createAuthInterceptor({ issuer, audience: issuer, keys: () => keyRing.jwks(), publicMethods: publicProcedures, clock: now });
  // The first interceptor is the outermost (connect applies them in reverse): log the outcome as
  // the caller sees it, audit it, map handler errors, then authorize (the token, then its client
  // as the store holds it now), then the handler.
  const callerCheck = createCallerCheck({ clients: store.clients, systemClients: state.systemClients, publicMethods: publicProcedures });
  const interceptors: Interceptor[] = [createAuditInterceptor({ audit, publicMethods: publicProcedures }), errorInterceptor, auth, callerCheck];
  // Unknown JSON fields are refused, as REST refuses them: a misspelt field must not be dropped.
  const jsonOptions = { useProtoFieldName: true, ignoreUnknownFields: false };
  // Every request message here is small; a bound keeps a hostile body from filling memory.
  const readMaxBytes = 64 * 1024;
  // Each call's id and source address, for audit events and throttling (the HTTP handler made them first).
  const trustedProxies = createTrustedProxies(options.trustedProxies ?? []);
  const contextValues = (req: Parameters<typeof originOfRequest>[0]) => createContextValues().set(requestOriginKey, originOfRequest(req, trustedProxies));
  // Telemetry is outermost: an RPC's time and span cover its log line and refusals too.
  const rpc = connectNodeAdapter({
    routes,
    interceptors: [createTelemetryInterceptor(metrics), createLoggingInterceptor(logger), ...interceptors],
    jsonOptions,
    readMaxBytes,
    contextValues,
  });
  // REST's calls are logged once, by the HTTP handler, as the REST answer: a fault's cause, which
  // the transport does not carry back, is recorded for that line.
  const inProcess = createRouterTransport(routes, { router: { interceptors: [faultInterceptor, ...interceptors], jsonOptions } });

  // GET /metrics on the service port: this server's registry, every worker's (main.ts), or none (METRICS_PORT).
  const scrape = options.metricsScrape ?? (() => metrics.scrape());
  const metricsRoute: ManagementRoutes = scrape === false ? async () => false : createMetricsRoute(scrape, metrics.contentType);
  metrics.watchKeys(keyRing, now);
  const handler = createHttpHandler({
    rpc,
    // Issued tokens are logged at `debug`; refusals, and every introspection and revocation (not the hot path), at `info`.
    token: observeOAuthRoute(
      "/oauth/token",
      createTokenEndpoint(tokens, countTokenEndpoint(oauthEndpointLog(logger, "/oauth/token", true), metrics, keyRing), options.admin?.clientId),
      metrics,
    ),
    introspect: observeOAuthRoute(
      "/oauth/introspect",
      createIntrospectionEndpoint({
        authenticator,
        introspector,
        log: oauthEndpointLog(logger, "/oauth/introspect"),
        adminClientId: options.admin?.clientId,
      }),
      metrics,
    ),
    revoke: observeOAuthRoute(
      "/oauth/revoke",
      createRevocationEndpoint({ authenticator, introspector, log: oauthEndpointLog(logger, "/oauth/revoke"), adminClientId: options.admin?.clientId }),
      metrics,
    ),
    management: anyOf(metricsRoute, createManagementRoutes(inProcess), createResourceServerRoutes(inProcess)),
    discovery: createDiscoveryRoutes({ issuer, keyRing, ping, readiness, revocations: store.revocations }),
    console: options.console === false ? undefined : createConsoleRoutes(options.consoleDir === undefined ? {} : { dir: options.consoleDir }),
    cors: options.corsOrigins === undefined ? undefined : createCors({ origins: options.corsOrigins }),
    logger,
    trustedProxies,
    observe: observeHttp(metrics),
  });
  const listener = createListener({
    handler,
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
    health.close();
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
