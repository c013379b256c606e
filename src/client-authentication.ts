import type { ClientRecord } from "../gen/m2mauth/internal/v1/records_pb.js";
import type { AuditLog } from "./audit.js";
import type { SecretHasher } from "./clients/secret-hasher.js";
import type { M2MServerOptions } from "./server-options.js";
import { createClientRecordCache, type ClientRecordCache } from "./store/client-record-cache.js";
import { defaultAuthThrottleLimits, throttleAuthentication } from "./tokens/auth-throttle.js";
import { createClientAuthenticator, type ClientAuthenticator } from "./tokens/authenticate.js";
import { createClientAssertionVerifier } from "./tokens/client-assertion.js";
import { createClientJwksUriKeys } from "./tokens/client-jwks-uri-keys.js";
import { createFederatedAssertionVerifier } from "./tokens/federated-assertion.js";
import { createFederatedKeys } from "./tokens/federated-keys.js";

// The composition of how a client proves itself, for the token, introspection and revocation
// paths over HTTP and RPC alike: a secret (one store read, or the record cache), a key it
// registered or publishes at a jwks_uri (RFC 7523), or a federated identity's token; and around
// them the failed-authentication limits and their audit events. server.ts composes the rest.

/** ClientAuthentication is the authenticator every path shares, and the record cache it reads (closed with the server). */
export interface ClientAuthentication {
  authenticator: ClientAuthenticator;
  cache: ClientRecordCache | undefined;
}

/** createClientAuthentication composes the client authenticator from the server's options and the issuer's state. */
export function createClientAuthentication(input: {
  options: M2MServerOptions;
  hasher: SecretHasher;
  systemClients: ReadonlyMap<string, ClientRecord>;
  audit: AuditLog;
  now: () => number;
}): ClientAuthentication {
  const { options, hasher, systemClients, audit, now } = input;
  // The token path's one store read, answered from a short-lived copy where the store announces
  // every change (a write drops the copies on every instance at once; see client-record-cache.ts).
  // Options are tested against undefined, never by truthiness: 0 is a value (here: no cache).
  const clientCacheMs = options.clientCacheMs ?? 0;
  const cache =
    options.store.changes !== undefined && clientCacheMs !== 0
      ? createClientRecordCache({ store: options.store.clients, changes: options.store.changes, maxAgeMs: clientCacheMs, now })
      : undefined;
  // private_key_jwt (RFC 7523): keys read like secrets (through the cache), jti marked in the store itself.
  // Workload identity federation: tokens of the configured external issuers, their keys fetched from those issuers only.
  const federatedIssuers = options.federatedIssuers ?? [];
  const federation =
    federatedIssuers.length === 0
      ? undefined
      : createFederatedAssertionVerifier({
          store: cache ?? options.store.clients,
          used: options.store.clients,
          now,
          keys: createFederatedKeys({
            issuers: federatedIssuers,
            now,
            ...options.federatedFetch,
            onIssuerError: (federatedIssuer, err) => options.logger.warn({ federatedIssuer, err: err.message }, "federated issuer unusable"),
          }),
        });
  // Keys clients publish at a jwks_uri: fetched only from the operator's allowed origins.
  const clientJwksOrigins = options.clientJwksOrigins ?? [];
  const jwksUriKeys =
    clientJwksOrigins.length === 0
      ? undefined
      : createClientJwksUriKeys({
          origins: clientJwksOrigins,
          now,
          ...options.clientJwksFetch,
          onError: (jwksUri, err) => options.logger.warn({ jwksUri, err: err.message }, "client jwks_uri unusable"),
        });
  const assertions = createClientAssertionVerifier({
    store: cache ?? options.store.clients,
    used: options.store.clients,
    issuer: options.issuer,
    now,
    federation,
    jwksUriKeys,
  });
  // Failed authentications are counted per client id and address in the store, and audited; a
  // success pays two Map lookups (see tokens/auth-throttle.ts).
  const authenticator = throttleAuthentication(createClientAuthenticator({ store: options.store.clients, cache, hasher, systemClients, assertions }), {
    limiter: options.store.failures,
    limits: options.authFailures ?? defaultAuthThrottleLimits,
    audit,
    adminClientId: options.admin?.clientId,
    now,
    onStoreError: (err) => options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, "failed authentication not counted"),
  });
  return { authenticator, cache };
}
