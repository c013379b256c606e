// m2m-auth/interceptor: verify RFC 9068 access tokens and guard Connect services, and call guarded
// services with client-credentials tokens. These exports are the documented API (docs/interceptor.md),
// nothing more: every other name in this directory is internal and may change.
export { authContextKey, createAuthInterceptor, getAuthClaims, type AuthInterceptorOptions } from "./auth-interceptor.js";
export { type AuthHooks, type AuthRejectedInfo, type AuthRejectionReason, type AuthVerifiedInfo } from "./auth-hooks.js";
export { createClientCredentialsInterceptor, type ClientCredentialsInterceptorOptions, type ClientRetryOptions } from "./client-interceptor.js";
export { type RemoteKeys } from "./jwks-cache.js";
export { type LocalKeyProvider, type TokenVerifierKeys } from "./keys.js";
export { TokenRequestError } from "./token-request.js";
export { type RevocationCheck } from "./revocation-list.js";
export { createTokenSource, type TokenSource, type TokenSourceOptions } from "./token-source.js";
export { KeysUnavailableError, TokenVerificationError, type AuthClaims } from "./verification.js";
export { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions } from "./verifier.js";
