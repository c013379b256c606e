import type { TokenService } from "../tokens/token-service.js";
import type { OAuthRoute } from "./http-handler.js";
import { createOAuthEndpoint, type OAuthEndpointLog } from "./oauth-endpoint.js";

/** TokenEndpointLog receives the outcome of a token request: never its credentials. */
export type TokenEndpointLog = OAuthEndpointLog;

/** splitSpaces reads a space-delimited parameter (RFC 6749 §3.3's form, which `audience` follows too). */
function splitSpaces(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(" ").filter((item) => item !== "");
}

/**
 * createTokenEndpoint returns the `POST /oauth/token` handler (RFC 6749 §4.4, errors per §5.2);
 * `adminClientId` is the configured admin's id (M2M_ADMIN_CLIENT_ID), logged as it is.
 */
export function createTokenEndpoint(tokens: TokenService, log: TokenEndpointLog, adminClientId?: string): OAuthRoute {
  return createOAuthEndpoint({
    log,
    adminClientId,
    // RFC 8707 §2: `resource` may be given several times, one URI each.
    repeatable: ["resource"],
    handle: (form, credentials, origin) =>
      tokens.issue({
        grantType: form.get("grant_type") ?? "",
        clientId: credentials.clientId,
        clientSecret: credentials.clientSecret,
        clientAssertion: credentials.clientAssertion,
        scope: form.get("scope") ?? "",
        audience: splitSpaces(form.get("audience")),
        resource: form.all("resource"),
        origin,
      }),
  });
}
