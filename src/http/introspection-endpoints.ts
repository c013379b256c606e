import type { ClientAuthenticator } from "../tokens/authenticate.js";
import { authenticateCaller, type TokenIntrospector } from "../tokens/introspection.js";
import type { OAuthRoute } from "./http-handler.js";
import { createOAuthEndpoint, type OAuthEndpointLog } from "./oauth-endpoint.js";

/** IntrospectionEndpointOptions configures the introspection and revocation endpoints. */
export interface IntrospectionEndpointOptions {
  /** authenticator is the token endpoint's own, so a client authenticates here exactly as there. */
  authenticator: ClientAuthenticator;
  introspector: TokenIntrospector;
  log: OAuthEndpointLog;
  /** adminClientId is the configured admin's id (M2M_ADMIN_CLIENT_ID), logged as it is. */
  adminClientId?: string | undefined;
}

// `token_type_hint` (RFC 7662 §2.1, RFC 7009 §2.1) is read by no one: we issue one kind of token,
// and both RFCs let the server search beyond the hint, so any hint, or none, finds it.

/** createIntrospectionEndpoint returns `POST /oauth/introspect` (RFC 7662): `{"active": false}` for any token the caller may not rely on. */
export function createIntrospectionEndpoint(options: IntrospectionEndpointOptions): OAuthRoute {
  const { authenticator, introspector } = options;
  return createOAuthEndpoint({
    log: options.log,
    adminClientId: options.adminClientId,
    handle: async (form, credentials, origin) => {
      const { caller, token } = await authenticateCaller(authenticator, { ...credentials, origin }, form.get("token"));
      return introspector.introspect(token, caller);
    },
  });
}

/** createRevocationEndpoint returns `POST /oauth/revoke` (RFC 7009): 200 with no body whether or not anything was revoked (§2.2). */
export function createRevocationEndpoint(options: IntrospectionEndpointOptions): OAuthRoute {
  const { authenticator, introspector } = options;
  return createOAuthEndpoint({
    log: options.log,
    adminClientId: options.adminClientId,
    handle: async (form, credentials, origin) => {
      const { caller, token } = await authenticateCaller(authenticator, { ...credentials, origin }, form.get("token"));
      await introspector.revoke(token, caller);
      return undefined;
    },
  });
}
