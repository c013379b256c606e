// The m2m-auth resource-server library: verify RFC 9068 access tokens and guard Connect services.
export { createAuthInterceptor, type AuthInterceptorOptions } from "./auth-interceptor.js";
export { authContextKey, getAuthClaims } from "./auth-context.js";
export { DEFAULT_ALGORITHMS } from "./algorithms.js";
export { grantedScopes, type AuthClaims } from "./claims.js";
export type { LocalKeyProvider, RemoteKeys, TokenVerifierKeys } from "./key-source.js";
export { createRequiredScopes, missingScopes, procedureOf, type RequiredScopes } from "./scopes.js";
export { KeysUnavailableError, TokenVerificationError } from "./verification-error.js";
export {
  MAX_TOKEN_LENGTH,
  createTokenVerifier,
  type TokenVerifier,
  type TokenVerifierOptions,
} from "./verifier.js";
