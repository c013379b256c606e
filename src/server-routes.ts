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
import type { AuditLog } from "./audit.js";
import type { ClientAuthentication } from "./client-authentication.js";
import type { ClientService } from "./clients/client-service.js";
import type { ResourceServerService as ResourceServers } from "./clients/resource-server-service.js";
import { createConsoleRoutes } from "./http/console-routes.js";
import { createCors } from "./http/cors.js";
import { createDiscoveryRoutes } from "./http/discovery-routes.js";
import { createHttpHandler, type HttpHandler } from "./http/http-handler.js";
import { createIntrospectionEndpoint, createRevocationEndpoint } from "./http/introspection-endpoints.js";
import { createManagementRoutes, type ManagementRoutes } from "./http/management-routes.js";
import { oauthEndpointLog } from "./http/oauth-endpoint.js";
import { faultInterceptor } from "./http/request-fault.js";
import { createTrustedProxies, originOfRequest } from "./http/request-origin.js";
import { createResourceServerRoutes } from "./http/resource-server-routes.js";
import { createTokenEndpoint } from "./http/token-endpoint.js";
import { createAuthInterceptor } from "./interceptor/index.js";
import type { IssuerState } from "./issuer-state.js";
import type { Readiness } from "./readiness.js";
import { createAuditInterceptor } from "./rpc/audit-interceptor.js";
import { createCallerCheck } from "./rpc/caller-check.js";
import { errorInterceptor } from "./rpc/connect-errors.js";
import { createHealthRpc } from "./rpc/health-rpc.js";
import { createLoggingInterceptor } from "./rpc/logging-interceptor.js";
import { createOrganizationClientRpc } from "./rpc/organization-client-rpc.js";
import { withParseErrorAnswers } from "./rpc/parse-errors.js";
import { createReflectionRpc } from "./rpc/reflection-rpc.js";
import { requestOriginKey } from "./rpc/request-origin.js";
import { createResourceServerRpc } from "./rpc/resource-server-rpc.js";
import { createSigningKeyRpc } from "./rpc/signing-key-rpc.js";
import { createTokenRpc } from "./rpc/token-rpc.js";
import type { M2MServerOptions } from "./server-options.js";
import type { Store } from "./store/client-store.js";
import { createMetricsRoute, observeHttp, observeOAuthRoute, traceRestRoutes } from "./telemetry/http-telemetry.js";
import type { Metrics } from "./telemetry/metrics.js";
import { createTelemetryInterceptor } from "./telemetry/rpc-telemetry.js";
import { countTokenEndpoint, countTokenIssue } from "./telemetry/token-telemetry.js";
import type { AddressRateLimit } from "./tokens/address-rate-limit.js";
import type { TokenIntrospector } from "./tokens/introspection.js";
import type { TokenService as Tokens } from "./tokens/token-service.js";
import type { TokenValidator } from "./tokens/token-validator.js";

// The transports of the composed service (server.ts): one router for Connect, gRPC and gRPC-Web,
// the same router in process for REST, and the HTTP handler with the OAuth, discovery, console
// and metrics routes. Every path reaches the same services through the same interceptors.

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

/** anyOf tries REST route sets in turn: the first that takes the path answers. */
function anyOf(...routes: ManagementRoutes[]): ManagementRoutes {
  return async (req, res, url) => {
    for (const route of routes) if (await route(req, res, url)) return true;
    return false;
  };
}

/** ServerParts are what server.ts composed: the services, the state and the options the routes serve. */
export interface ServerParts {
  options: M2MServerOptions;
  /** store is the instrumented store. */
  store: Store;
  state: IssuerState;
  readiness: Readiness;
  audit: AuditLog;
  metrics: Metrics;
  now: () => number;
  clients: ClientService;
  resourceServers: ResourceServers;
  tokens: Tokens;
  validator: TokenValidator;
  introspector: TokenIntrospector;
  authenticator: ClientAuthentication["authenticator"];
  validateLimit: AddressRateLimit;
}

/** ServerRoutes is the listener's request handler, and what must be ended before the listener closes. */
export interface ServerRoutes {
  handler: HttpHandler;
  /** close ends the health watches, which never end by themselves. */
  close(): void;
}

/** createServerRoutes returns every route of the service over `parts`: RPC (all three protocols), REST, OAuth, discovery, console, metrics. */
export function createServerRoutes(parts: ServerParts): ServerRoutes {
  const { options, store, state, readiness, audit, metrics, now, clients, resourceServers, tokens, validator, introspector, authenticator, validateLimit } =
    parts;
  const { logger, issuer } = options;
  const { keyRing } = state;
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
    management: anyOf(metricsRoute, traceRestRoutes(anyOf(createManagementRoutes(inProcess), createResourceServerRoutes(inProcess)))),
    discovery: createDiscoveryRoutes({ issuer, keyRing, ping, readiness, revocations: store.revocations }),
    console: options.console === false ? undefined : createConsoleRoutes(options.consoleDir === undefined ? {} : { dir: options.consoleDir }),
    cors: options.corsOrigins === undefined ? undefined : createCors({ origins: options.corsOrigins }),
    logger,
    trustedProxies,
    observe: observeHttp(metrics),
  });
  return { handler, close: () => health.close() };
}
