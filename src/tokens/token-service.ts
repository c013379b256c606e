import { InternalError, InvalidRequestError, InvalidScopeError, InvalidTargetError, UnsupportedGrantTypeError } from "../errors.js";
import type { KeyRing } from "../keys/key-ring.js";
import { signJwt } from "../keys/sign-jwt.js";
import { authenticateClient, type CallOrigin, type ClientAuthenticator } from "./authenticate.js";
import type { UsageRecorder } from "./usage-recorder.js";
import { buildClaims } from "./claims.js";

/** TokenRequest is a client credentials grant request (RFC 6749 §4.4.2) with its credentials. */
export interface TokenRequest {
  grantType: string;
  clientId: string;
  clientSecret: string;
  /** clientAssertion is an RFC 7523 private_key_jwt assertion, instead of a secret (clientSecret then empty). */
  clientAssertion?: string | undefined;
  /** scope is the space-delimited scope parameter; empty asks for every scope of the client. */
  scope: string;
  /** audience lists the audiences asked for; empty (with no `resource`) asks for every audience of the client. */
  audience: readonly string[];
  /**
   * resource lists RFC 8707 resource indicators: audiences by another name. With `audience` too,
   * the token is for both lists together; each value must be one of the client's audiences.
   */
  resource?: readonly string[];
  /** origin is where the request came from (failed-authentication throttling, audit). */
  origin?: CallOrigin | undefined;
}

/** TokenResponse is the RFC 6749 §5.1 access token response. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope?: string;
}

/** TokenService issues access tokens by the client credentials grant. */
export interface TokenService {
  /** issue authenticates the client and returns a signed RFC 9068 access token. */
  issue(request: TokenRequest): Promise<TokenResponse>;
}

/** TokenServiceOptions configures createTokenService. */
export interface TokenServiceOptions {
  authenticator: ClientAuthenticator;
  /** usage notes which secret obtained each token (for last_used_time); optional. */
  usage?: UsageRecorder;
  keyRing: KeyRing;
  issuer: string;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
  /** signOnThreadPool sends RSA signatures to libuv's thread pool (see SigningKey.sign); default false. */
  signOnThreadPool?: boolean;
}

function grantedScopes(requested: string, allowed: readonly string[]): string[] {
  // RFC 6749 §3.3: space-delimited; an omitted scope means the client's default, all of its scopes.
  const asked = requested.split(" ").filter((scope) => scope !== "");
  if (asked.length === 0) return [...allowed];
  const unknown = asked.filter((scope) => !allowed.includes(scope));
  if (unknown.length > 0) throw new InvalidScopeError(`scope not allowed for this client: ${unknown.join(" ")}`);
  return [...new Set(asked)];
}

// RFC 8707 §2: `resource` names where the token will be used, which is what `aud` says (RFC 9068
// §3), so a resource is an audience by another name: matched exactly against the client's
// registered audience (which need not be a URI, so no URI form is required), never ignored.
// Given with `audience`, the token is for the union: each list only adds targets, and each
// target is checked, so combining them can never grant more than asking for each would.
function grantedAudience(audience: readonly string[], resource: readonly string[], allowed: readonly string[]): string[] {
  const requested = [...audience, ...resource];
  if (requested.length === 0) return [...allowed];
  const unknown = requested.filter((target) => !allowed.includes(target));
  // RFC 8707 §2: invalid_target is the error for a resource the client may not ask for.
  if (unknown.length > 0) throw new InvalidTargetError(`audience or resource not allowed for this client: ${[...new Set(unknown)].join(" ")}`);
  return [...new Set(requested)];
}

/** createTokenService returns the token service: authenticate, build claims, sign; one pass. */
export function createTokenService(options: TokenServiceOptions): TokenService {
  const { authenticator, keyRing, issuer } = options;
  if (!authenticator) throw new TypeError("createTokenService: options.authenticator is required");
  if (!keyRing) throw new TypeError("createTokenService: options.keyRing is required");
  if (!issuer) throw new TypeError("createTokenService: options.issuer is required");
  const now = options.now ?? Date.now;
  return {
    async issue(request) {
      if (request.grantType === "") throw new InvalidRequestError("grant_type is required");
      if (request.grantType !== "client_credentials") throw new UnsupportedGrantTypeError();
      const { record, secretId, system } = await authenticateClient(authenticator, request);
      const client = record.client;
      if (client === undefined) throw new InternalError({ cause: new Error(`client record ${request.clientId} is empty`) });
      const scopes = grantedScopes(request.scope, client.scopes);
      const audience = grantedAudience(request.audience, request.resource ?? [], client.audience);
      const claims = buildClaims(client, { issuer, scopes, audience, nowSeconds: Math.floor(now() / 1000) });
      const accessToken = await signJwt(keyRing.current(), claims, options.signOnThreadPool);
      // last_used_time is a secret's: a key-authenticated request notes none.
      if (!system && secretId !== "") options.usage?.record(client.clientId, secretId);
      const response: TokenResponse = { access_token: accessToken, token_type: "Bearer", expires_in: client.expiry };
      if (scopes.length > 0) response.scope = scopes.join(" ");
      return response;
    },
  };
}
