// The domain's errors, and nothing of any transport: each edge maps them once, RPC in
// src/rpc/connect-errors.ts, the OAuth endpoint and REST in src/http/http-errors.ts.

/**
 * m2mErrorCodes are the codes a domain error carries: RFC 6749 §5.2 codes where the OAuth token
 * path meets the error, AIP-193 canonical codes (snake_case) for the management API.
 */
export const m2mErrorCodes = [
  "invalid_request",
  "invalid_client",
  "unsupported_grant_type",
  "invalid_scope",
  "invalid_target",
  "invalid_argument",
  "not_found",
  "permission_denied",
  "failed_precondition",
  "temporarily_unavailable",
  "resource_exhausted",
  "server_error",
] as const;

/** M2MErrorCode is one of m2mErrorCodes: each edge's table is total over it, or over its subset. */
export type M2MErrorCode = (typeof m2mErrorCodes)[number];

/**
 * M2MError is the base of every error a caller may see: `code` is stable and machine-readable,
 * `message` is safe to show to the caller, `cause` keeps the underlying error for logs only.
 */
export class M2MError extends Error {
  /** code is the stable error code, an RFC 6749 §5.2 code where one applies. */
  readonly code: M2MErrorCode;
  /** retryable tells a caller the same request may succeed later. */
  readonly retryable: boolean;
  /**
   * reason names, where `code` alone does not tell, what exactly went wrong (UPPER_SNAKE_CASE,
   * stable, as AIP-193's ErrorInfo.reason); callers see it in the `m2m-error-reason` header.
   */
  readonly reason: string | undefined;

  constructor(code: M2MErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean; reason?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options?.retryable ?? false;
    this.reason = options?.reason;
  }
}

/** InvalidRequestError is RFC 6749 §5.2 `invalid_request`: the request is malformed. */
export class InvalidRequestError extends M2MError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid_request", message, options);
  }
}

/** InvalidClientError is RFC 6749 §5.2 `invalid_client`: client authentication failed. */
export class InvalidClientError extends M2MError {
  constructor(message = "client authentication failed", options?: { cause?: unknown }) {
    super("invalid_client", message, options);
  }
}

/** UnsupportedGrantTypeError is RFC 6749 §5.2 `unsupported_grant_type`. */
export class UnsupportedGrantTypeError extends M2MError {
  constructor(message = "only grant_type=client_credentials is supported") {
    super("unsupported_grant_type", message);
  }
}

/** InvalidScopeError is RFC 6749 §5.2 `invalid_scope`: a scope is unknown or not granted. */
export class InvalidScopeError extends M2MError {
  constructor(message: string) {
    super("invalid_scope", message);
  }
}

/** InvalidTargetError is RFC 8707 §2 `invalid_target`: an audience the client may not ask for. */
export class InvalidTargetError extends M2MError {
  constructor(message: string) {
    super("invalid_target", message);
  }
}

/** InvalidArgumentError rejects a management request field; `field` names it. */
export class InvalidArgumentError extends M2MError {
  /** field is the request field at fault, in snake_case as it is on the wire. */
  readonly field: string;

  constructor(field: string, message: string, options?: { reason?: string }) {
    super("invalid_argument", `${field}: ${message}`, options);
    this.field = field;
  }
}

/** requestIdReusedReason is the `reason` of RequestIdReusedError; REST answers it 422. */
export const requestIdReusedReason = "REQUEST_ID_REUSED";

/**
 * RequestIdReusedError says a create's request_id (REST: Idempotency-Key) was first used with a
 * different request, so its answer cannot be replayed (draft-ietf-httpapi-idempotency-key-header
 * §2.7 asks for 422 over HTTP; RPC has INVALID_ARGUMENT).
 */
export class RequestIdReusedError extends InvalidArgumentError {
  constructor() {
    super("request_id", "was first used with a different request (REST: the Idempotency-Key header); use a new one for a new request", {
      reason: requestIdReusedReason,
    });
  }
}

/** NotFoundError says the named resource does not exist (or is not the caller's to see). */
export class NotFoundError extends M2MError {
  constructor(message: string) {
    super("not_found", message);
  }
}

/** PermissionDeniedError says the caller may not do this (another organization, an ungranted scope). */
export class PermissionDeniedError extends M2MError {
  constructor(message: string) {
    super("permission_denied", message);
  }
}

/** FailedPreconditionError says the resource is not in a state that allows the request. */
export class FailedPreconditionError extends M2MError {
  constructor(message: string) {
    super("failed_precondition", message);
  }
}

/** UnavailableError means a dependency (the store) is down; the caller should retry later. */
export class UnavailableError extends M2MError {
  constructor(message = "the service is temporarily unavailable, retry later", options?: { cause?: unknown }) {
    super("temporarily_unavailable", message, { ...options, retryable: true });
  }
}

/**
 * ResourceExhaustedError refuses a caller that went past a limit (failed client authentications,
 * ValidateToken calls per address) until `retryAfterSeconds` have passed; nothing was checked.
 */
export class ResourceExhaustedError extends M2MError {
  /** retryAfterSeconds is when the same request may succeed again (HTTP Retry-After, google.rpc.RetryInfo). */
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super("resource_exhausted", message, { retryable: true });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** InternalError hides an unexpected failure behind a generic message. */
export class InternalError extends M2MError {
  constructor(options?: { cause?: unknown }) {
    super("server_error", "internal error", options);
  }
}

/** toM2MError returns `err` if it is an M2MError, otherwise an InternalError that hides it. */
export function toM2MError(err: unknown): M2MError {
  return err instanceof M2MError ? err : new InternalError({ cause: err });
}
