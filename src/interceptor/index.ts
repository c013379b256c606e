// The m2m-auth resource-server library: verify RFC 9068 access tokens and guard Connect services.
export { createAuthInterceptor, type AuthInterceptorOptions } from "./auth-interceptor.js";
export { authContextKey, getAuthClaims } from "./auth-context.js";
export { DEFAULT_ALGORITHMS } from "./algorithms.js";
export { grantedScopes, type AuthClaims } from "./claims.js";
export {
  DEFAULT_JWKS_CACHE_MAX_AGE,
  DEFAULT_JWKS_COOLDOWN,
  DEFAULT_JWKS_MAX_STALE,
  DEFAULT_JWKS_TIMEOUT,
  createJwksCache,
  type JwksCache,
  type JwksCacheOptions,
  type RemoteKeys,
} from "./jwks-cache.js";
export { MAX_JWKS_BYTES } from "./jwks-document.js";
export type { LocalKeyProvider, TokenVerifierKeys } from "./key-source.js";
export { createRequiredScopes, missingScopes, procedureOf, type RequiredScopes } from "./scopes.js";
export {
  DEFAULT_TOKEN_CACHE_ENTRIES,
  createTokenCache,
  type TokenCache,
  type TokenCacheOptions,
} from "./token-cache.js";
export { KeysUnavailableError, TokenVerificationError } from "./verification-error.js";
export { MAX_TOKEN_LENGTH, createTokenVerifier, type TokenVerifier } from "./verifier.js";
export type { TokenVerifierOptions } from "./verifier-options.js";
export {
  createClientCredentialsInterceptor,
  type ClientCredentialsInterceptorOptions,
} from "./client-credentials-interceptor.js";
export { createTokenSource, type TokenSource, type TokenSourceOptions } from "./token-source.js";
export { TokenRequestError } from "./token-source-request.js";
