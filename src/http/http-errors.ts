import { Code, ConnectError } from "@connectrpc/connect";
import { InternalError, requestIdReusedReason, ResourceExhaustedError, toM2MError, type M2MError, type M2MErrorCode } from "../errors.js";
import { faultCause, toConnectError } from "../rpc/connect-errors.js";
import { sendJson, type HttpResponse } from "./exchange.js";
import { recordFault } from "./request-fault.js";

// The HTTP edges: the OAuth token endpoint (RFC 6749 §5.2 bodies) and the REST routes ({code,
// message} bodies). Each table holds exactly the codes its edge can meet, so a code added to
// the domain or to an edge without an answer here does not compile.

/** OAuthErrorCode is each code the token endpoint can meet: the token service's and the store's. */
export type OAuthErrorCode = Extract<
  M2MErrorCode,
  | "invalid_request"
  | "invalid_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "temporarily_unavailable"
  | "resource_exhausted"
  | "server_error"
>;

const oauthStatuses: Record<OAuthErrorCode, number> = {
  // RFC 6749 §5.2: 400 unless stated otherwise.
  invalid_request: 400,
  // RFC 6749 §5.2 allows 401 for invalid_client, and asks for it (with a challenge) after Basic.
  invalid_client: 401,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  // RFC 8707 §2: the token endpoint's invalid_target is a §5.2 error.
  invalid_target: 400,
  // RFC 6749 §4.1.2.1's codes for a server in trouble, with their HTTP meaning.
  temporarily_unavailable: 503,
  // RFC 6585 §4: too many failed client authentications (or calls) from this caller; see oauthErrorOf.
  resource_exhausted: 429,
  server_error: 500,
};

/**
 * oauthErrorOf is the RFC 6749 §5.2 `error` value of a code: the code itself, except for
 * `resource_exhausted`, which RFC 6749 has no value for. It is answered `temporarily_unavailable`
 * (registered by RFC 6749 §4.1.2.1 and known to OAuth libraries as "try again later"), with 429
 * and Retry-After: `invalid_client` would tell an owner whose secret is right to replace it, and a
 * value of our own would be unknown to every client.
 */
export function oauthErrorOf(code: OAuthErrorCode): Exclude<OAuthErrorCode, "resource_exhausted"> {
  return code === "resource_exhausted" ? "temporarily_unavailable" : code;
}

function isOAuthError(e: M2MError): e is M2MError & { readonly code: OAuthErrorCode } {
  return Object.hasOwn(oauthStatuses, e.code);
}

/** OAuthErrorBody is the RFC 6749 §5.2 error response body. */
export interface OAuthErrorBody {
  error: Exclude<OAuthErrorCode, "resource_exhausted">;
  error_description: string;
}

/**
 * toOAuthError maps any error to an HTTP status and RFC 6749 §5.2 body. A domain error the token
 * endpoint cannot meet is a bug: it is answered as one (500 `server_error`), its detail hidden.
 */
export function toOAuthError(err: unknown): { status: number; body: OAuthErrorBody; retryable: boolean; retryAfter?: string } {
  const e = toM2MError(err);
  if (!isOAuthError(e)) return toOAuthError(new InternalError({ cause: e }));
  const answer = { status: oauthStatuses[e.code], body: { error: oauthErrorOf(e.code), error_description: e.message }, retryable: e.retryable };
  return e.retryable ? { ...answer, retryAfter: String(retryAfterOf(e)) } : answer;
}

/** retryAfterOf is the seconds a retryable error asks a caller to wait (HTTP Retry-After): its own, else 1. */
export function retryAfterOf(e: M2MError): number {
  return e instanceof ResourceExhaustedError ? e.retryAfterSeconds : 1;
}

/**
 * RestCode is each Connect code a REST route can meet: the RPC edge's answer to every domain
 * code (src/rpc/connect-errors.ts), the auth interceptor's (unauthenticated, permission_denied,
 * unavailable, internal) and the routes' own invalid_argument.
 */
export type RestCode =
  | Code.InvalidArgument
  | Code.Unauthenticated
  | Code.PermissionDenied
  | Code.NotFound
  | Code.FailedPrecondition
  | Code.ResourceExhausted
  | Code.Unavailable
  | Code.Internal;

// The status and name of each code, as the Connect protocol answers them
// (connectrpc.com/docs/protocol#error-codes; failed_precondition is 400 there and in AIP-193).
const restErrors: Record<RestCode, { status: number; code: string }> = {
  [Code.InvalidArgument]: { status: 400, code: "invalid_argument" },
  [Code.Unauthenticated]: { status: 401, code: "unauthenticated" },
  [Code.PermissionDenied]: { status: 403, code: "permission_denied" },
  [Code.NotFound]: { status: 404, code: "not_found" },
  [Code.FailedPrecondition]: { status: 400, code: "failed_precondition" },
  [Code.ResourceExhausted]: { status: 429, code: "resource_exhausted" },
  [Code.Unavailable]: { status: 503, code: "unavailable" },
  [Code.Internal]: { status: 500, code: "internal" },
};

function isRestError(e: ConnectError): e is ConnectError & { readonly code: RestCode } {
  return Object.hasOwn(restErrors, e.code);
}

// Where an HTTP specification asks for a status the Connect code does not map to, by error reason.
const reasonStatuses: Record<string, number> = {
  // draft-ietf-httpapi-idempotency-key-header §2.7: a key reused with another payload is 422.
  [requestIdReusedReason]: 422,
};

/** RestErrorBody is a REST error response body. */
export interface RestErrorBody {
  code: string;
  message: string;
}

/**
 * toRestError maps any error to the HTTP status, `{code, message}` body and headers of a REST
 * answer. A code REST cannot meet is a bug, answered as `internal`; so is a non-domain error.
 */
export function toRestError(err: unknown): { status: number; body: RestErrorBody; headers: Record<string, string>; cause?: unknown } {
  const error = toConnectError(err);
  if (!isRestError(error)) return toRestError(new ConnectError("internal error", Code.Internal, undefined, undefined, error));
  const { status: codeStatus, code } = restErrors[error.code];
  const headers: Record<string, string> = {};
  const challenge = error.metadata.get("www-authenticate");
  if (challenge !== null) headers["www-authenticate"] = challenge;
  if (error.code === Code.Unavailable) headers["retry-after"] = "1";
  if (error.code === Code.ResourceExhausted) headers["retry-after"] = String(retryAfterOf(toM2MError(faultCause(error))));
  const reason = error.metadata.get("m2m-error-reason");
  if (reason !== null) headers["m2m-error-reason"] = reason;
  const status = (reason !== null ? reasonStatuses[reason] : undefined) ?? codeStatus;
  // Internal errors carry no detail to the caller (toConnectError made them generic already).
  const body = { code, message: error.rawMessage };
  return status >= 500 ? { status, body, headers, cause: faultCause(error) } : { status, body, headers };
}

/** sendRestError answers a REST request with `err`; a 5xx's cause is kept for the request's log line. */
export function sendRestError(res: HttpResponse, err: unknown): void {
  const { status, body, headers, cause } = toRestError(err);
  if (status >= 500) recordFault(cause);
  sendJson(res, status, body, headers);
}

/** sendMethodNotAllowed answers 405 with the methods the resource allows (RFC 9110 §15.5.6). */
export function sendMethodNotAllowed(res: HttpResponse, method: string | undefined, allow: string): void {
  sendJson(res, 405, { code: "method_not_allowed", message: `${method ?? "this method"} is not allowed here; use ${allow}` }, { allow });
}
