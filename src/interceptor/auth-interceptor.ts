// The Connect interceptor that admits a call only with a valid bearer access token and its scopes.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import { authContextKey } from "./auth-context.js";
import { bearerChallenge, parseBearerToken } from "./bearer.js";
import type { AuthClaims } from "./claims.js";
import { checkProcedure, createRequiredScopes, grantsAll, missingScopes, procedureOf } from "./scopes.js";
import { KeysUnavailableError, TokenVerificationError } from "./verification-error.js";
import { createTokenVerifier, type TokenVerifier } from "./verifier.js";
import type { TokenVerifierOptions } from "./verifier-options.js";

/** AuthInterceptorOptions configures createAuthInterceptor: the verifier's options, audience required. */
export interface AuthInterceptorOptions extends Omit<TokenVerifierOptions, "audience"> {
  /** audience: the token's `aud` must contain at least one of these (RFC 9068 §4). */
  audience: string | string[];
  /** requiredScopes maps "/pkg.Service/Method" to the scopes it needs, replacing its proto option. */
  requiredScopes?: Record<string, readonly string[]>;
  /** publicMethods are procedure paths, like "/m2mauth.v1.TokenService/IssueToken", that need no token. */
  publicMethods?: readonly string[];
}

// What a method needs, worked out once per method descriptor.
interface MethodPolicy {
  readonly isPublic: boolean;
  readonly required: readonly string[];
}

function unauthenticated(message: string, challenge: string, cause?: unknown): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, { "www-authenticate": challenge }, undefined, cause);
}

// RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
const noToken = { message: "missing bearer token", challenge: bearerChallenge() };
const badHeader = {
  message: "malformed authorization header",
  challenge: bearerChallenge({ error: "invalid_request", error_description: "malformed authorization header" }),
};

function verificationFailure(err: unknown): ConnectError {
  if (err instanceof KeysUnavailableError) {
    // Fail closed, but tell the caller the same call may succeed later.
    return new ConnectError(err.message, Code.Unavailable, undefined, undefined, err);
  }
  if (err instanceof TokenVerificationError) {
    const challenge = bearerChallenge({ error: "invalid_token", error_description: err.message });
    return unauthenticated(err.message, challenge, err);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

function insufficientScope(required: readonly string[], granted: readonly string[]): ConnectError {
  const message = `insufficient scope: missing ${missingScopes(required, granted).join(" ")}`;
  // RFC 6750 §3.1: 403 insufficient_scope, with `scope` naming what the method needs.
  const challenge = bearerChallenge({ error: "insufficient_scope", error_description: message, scope: required.join(" ") });
  return new ConnectError(message, Code.PermissionDenied, { "www-authenticate": challenge });
}

async function verifyOrThrow(verifier: TokenVerifier, token: string): Promise<AuthClaims> {
  try {
    return await verifier.verify(token);
  } catch (err) {
    throw verificationFailure(err);
  }
}

/**
 * createAuthInterceptor returns a server interceptor, for unary and streaming calls alike: a
 * public method passes untouched; any other needs `Authorization: Bearer <access token>` (RFC 6750
 * §2.1) that verifies, and every scope the method requires. The verified claims are put under
 * authContextKey for getAuthClaims. A method with no required scopes needs only a valid token.
 * A token seen before is served from the verifier's token cache: no signature check, no I/O.
 */
export function createAuthInterceptor(options: AuthInterceptorOptions): Interceptor {
  if (options?.audience === undefined) throw new TypeError("audience: is required");
  const verifier = createTokenVerifier(options);
  const scopes = createRequiredScopes(options.requiredScopes);
  if (options.publicMethods !== undefined && !Array.isArray(options.publicMethods)) {
    throw new TypeError("publicMethods: must be an array of procedure paths");
  }
  const publicMethods = new Set((options.publicMethods ?? []).map((p) => checkProcedure("publicMethods", p)));
  const policies = new WeakMap<DescMethod, MethodPolicy>();

  function policyOf(method: DescMethod): MethodPolicy {
    let policy = policies.get(method);
    if (policy === undefined) {
      const isPublic = publicMethods.has(procedureOf(method));
      policy = Object.freeze({ isPublic, required: isPublic ? [] : scopes.forMethod(method) });
      policies.set(method, policy);
    }
    return policy;
  }

  // Per call on a cache hit: a header read and parse, a Map lookup with an exp compare, the scope
  // check, and the context value; nothing is awaited before `next`.
  return (next) => async (req) => {
    const policy = policyOf(req.method);
    if (policy.isPublic) return next(req);
    const authorization = req.header.get("authorization");
    if (authorization === null) throw unauthenticated(noToken.message, noToken.challenge);
    const token = parseBearerToken(authorization);
    if (token === undefined) throw unauthenticated(badHeader.message, badHeader.challenge);
    const claims = verifier.cached(token) ?? (await verifyOrThrow(verifier, token));
    if (!grantsAll(policy.required, claims.scopes)) throw insufficientScope(policy.required, claims.scopes);
    req.contextValues.set(authContextKey, claims);
    return next(req);
  };
}
