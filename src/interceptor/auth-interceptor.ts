// The Connect interceptor that admits a call only with a valid bearer access token and its scopes,
// the RFC 6750 syntax it reads and answers with, and where it leaves the claims for handlers.
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import { callHook, rejectionReasonOf, type AuthHooks, type AuthRejectionReason } from "./auth-hooks.js";
import { checkProcedure, createRequiredScopes, grantsAll, missingScopes, procedureOf } from "./scopes.js";
import { KeysUnavailableError, TokenVerificationError, type AuthClaims } from "./verification.js";
import { createTokenVerifier, type TokenVerifierOptions } from "./verifier.js";

/** authContextKey holds the verified AuthClaims of the call; undefined on a public method or without the interceptor. */
export const authContextKey = createContextKey<AuthClaims | undefined>(undefined, {
  description: "m2m-auth claims",
});

/**
 * getAuthClaims returns the claims the auth interceptor verified for this call; it throws a
 * ConnectError with Code.Unauthenticated when there are none (a public method, or no interceptor).
 */
export function getAuthClaims(context: HandlerContext): AuthClaims {
  const claims = context.values.get(authContextKey);
  if (claims === undefined) throw new ConnectError("no verified access token for this call", Code.Unauthenticated);
  return claims;
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"="; the scheme name is case-insensitive (RFC 9110 §11.1).
const b64token = /^[A-Za-z0-9\-._~+/]+=*$/;
const scheme = "bearer";

/**
 * parseBearerToken returns the token of an `Authorization: Bearer <token>` header value, or
 * undefined when the value is not exactly one bearer credential. It runs on every call, so it
 * compares character codes instead of building a match array.
 */
export function parseBearerToken(authorization: string): string | undefined {
  let at = scheme.length;
  if (authorization.length <= at + 1) return undefined;
  // `| 0x20` lower-cases an ASCII letter; no other character maps onto a letter of "bearer".
  for (let i = 0; i < at; i++) if ((authorization.charCodeAt(i) | 0x20) !== scheme.charCodeAt(i)) return undefined;
  if (authorization.charCodeAt(at) !== 0x20) return undefined;
  while (authorization.charCodeAt(at) === 0x20) at++;
  const token = authorization.slice(at);
  return b64token.test(token) ? token : undefined;
}

// RFC 6750 §3: error, error_description and scope values use %x20-21 / %x23-5B / %x5D-7E only.
const unsafe = /[^\x20\x21\x23-\x5B\x5D-\x7E]/g;

/** BearerChallengeParams are the RFC 6750 §3 auth-params of a WWW-Authenticate challenge. */
export interface BearerChallengeParams {
  /** error is an RFC 6750 §3.1 code: invalid_request, invalid_token or insufficient_scope. */
  error?: "invalid_request" | "invalid_token" | "insufficient_scope";
  error_description?: string;
  /** scope is the space-delimited scope the resource needs (RFC 6750 §3). */
  scope?: string;
}

/** bearerChallenge returns a `WWW-Authenticate` value, e.g. `Bearer error="invalid_token", error_description="token expired"`. */
export function bearerChallenge(params: BearerChallengeParams = {}): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${String(v).replace(unsafe, "")}"`);
  return parts.length === 0 ? "Bearer" : `Bearer ${parts.join(", ")}`;
}

/**
 * refusedBeforeHandlerHeader is set on every refusal of the auth interceptor, which runs before the
 * handler: the client interceptor may re-send such a call even when its method is not idempotent.
 */
export const refusedBeforeHandlerHeader = "m2m-auth-refused";
const beforeHandler = "before-handler";

/** isRefusedBeforeHandler tells whether error metadata carries the auth interceptor's before-handler marker. */
export function isRefusedBeforeHandler(metadata: Headers): boolean {
  return metadata.get(refusedBeforeHandlerHeader) === beforeHandler;
}

/** saysInvalidToken tells whether error metadata holds `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1). */
export function saysInvalidToken(metadata: Headers): boolean {
  const challenge = /^\s*bearer(?:\s+(.*))?$/i.exec(metadata.get("www-authenticate") ?? "");
  if (challenge === null) return false;
  // RFC 9110 §11.2: auth-param = token "=" ( token / quoted-string ), so a description that quotes
  // `error=invalid_token` is never mistaken for the error itself.
  for (const [, name, value] of (challenge[1] ?? "").matchAll(/([!#$%&'*+.^_`|~\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)/g)) {
    if (name?.toLowerCase() === "error") return value === "invalid_token" || value === '"invalid_token"';
  }
  return false;
}

/** AuthInterceptorOptions configures createAuthInterceptor: the verifier's options, audience required. */
export interface AuthInterceptorOptions extends Omit<TokenVerifierOptions, "audience">, AuthHooks {
  /** audience: the token's `aud` must contain at least one of these (RFC 9068 §4). */
  audience: string | string[];
  /** requiredScopes maps "/pkg.Service/Method" to the scopes it needs, replacing its proto option. */
  requiredScopes?: Record<string, readonly string[]>;
  /** publicMethods are procedure paths, like "/m2mauth.v1.TokenService/IssueToken", that need no token. */
  publicMethods?: readonly string[];
}

// What a method needs, worked out once per method descriptor.
interface MethodPolicy {
  readonly procedure: string;
  readonly isPublic: boolean;
  readonly required: readonly string[];
}

/**
 * refusedBeforeHandler is a refusal made before the handler ran, marked with refusedBeforeHandlerHeader
 * so the client interceptor may re-send it; a server's own pre-handler checks use it too.
 */
export function refusedBeforeHandler(message: string, code: Code, metadata: Record<string, string>, cause?: unknown): ConnectError {
  return new ConnectError(message, code, { ...metadata, [refusedBeforeHandlerHeader]: beforeHandler }, undefined, cause);
}

function unauthenticated(message: string, challenge: string, cause?: unknown): ConnectError {
  return refusedBeforeHandler(message, Code.Unauthenticated, { "www-authenticate": challenge }, cause);
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
    return refusedBeforeHandler(err.message, Code.Unavailable, {}, err);
  }
  if (err instanceof TokenVerificationError) {
    const challenge = bearerChallenge({ error: "invalid_token", error_description: err.message });
    return unauthenticated(err.message, challenge, err);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

/** insufficientScope is the PermissionDenied refusal, with its RFC 6750 §3.1 `insufficient_scope` challenge, of a call lacking `required` scopes. */
export function insufficientScope(required: readonly string[], granted: readonly string[]): ConnectError {
  const message = `insufficient scope: missing ${missingScopes(required, granted).join(" ")}`;
  // RFC 6750 §3.1: 403 insufficient_scope, with `scope` naming what the method needs.
  const challenge = bearerChallenge({ error: "insufficient_scope", error_description: message, scope: required.join(" ") });
  return refusedBeforeHandler(message, Code.PermissionDenied, { "www-authenticate": challenge });
}

/**
 * createAuthInterceptor returns a server interceptor, for unary and streaming calls alike: a
 * public method passes untouched; any other needs `Authorization: Bearer <access token>` (RFC 6750
 * §2.1) that verifies, and every scope the method requires. The verified claims are put under
 * authContextKey for getAuthClaims. A method with no required scopes needs only a valid token.
 * A token seen before is served from the verifier's token cache: no signature check, no I/O.
 * Every refusal carries `m2m-auth-refused: before-handler` (refusedBeforeHandlerHeader); one for a
 * bad token carries `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1).
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
      const procedure = procedureOf(method);
      const isPublic = publicMethods.has(procedure);
      policy = Object.freeze({ procedure, isPublic, required: isPublic ? [] : scopes.forMethod(method) });
      policies.set(method, policy);
    }
    return policy;
  }

  // Per call on a cache hit: a header read and parse, a Map lookup with an exp compare, the scope
  // check, and the context value; nothing is awaited before `next`.
  const { onVerified, onRejected } = options;
  // Every refusal goes through here: told to onRejected (when set), then thrown.
  function refuse(policy: MethodPolicy, reason: AuthRejectionReason, error: ConnectError): ConnectError {
    if (onRejected !== undefined) callHook(onRejected, { reason, method: policy.procedure, error });
    return error;
  }
  async function verify(token: string, policy: MethodPolicy): Promise<AuthClaims> {
    try {
      return await verifier.verify(token);
    } catch (err) {
      throw refuse(policy, rejectionReasonOf(err), verificationFailure(err));
    }
  }
  return (next) => async (req) => {
    const policy = policyOf(req.method);
    if (policy.isPublic) return next(req);
    const authorization = req.header.get("authorization");
    if (authorization === null) throw refuse(policy, "missing_token", unauthenticated(noToken.message, noToken.challenge));
    const token = parseBearerToken(authorization);
    if (token === undefined) throw refuse(policy, "malformed_header", unauthenticated(badHeader.message, badHeader.challenge));
    const claims = verifier.cached(token) ?? (await verify(token, policy));
    if (!grantsAll(policy.required, claims.scopes)) throw refuse(policy, "insufficient_scope", insufficientScope(policy.required, claims.scopes));
    req.contextValues.set(authContextKey, claims);
    if (onVerified !== undefined) callHook(onVerified, { claims, method: policy.procedure });
    return next(req);
  };
}
