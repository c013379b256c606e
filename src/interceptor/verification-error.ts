// Errors the token verifier throws. Messages are safe to return to the caller: they never hold the
// token or any of its contents; `cause` keeps the underlying error for logs only.

/** TokenVerificationError means the token is not acceptable: RFC 6750 §3.1 `invalid_token`. */
export class TokenVerificationError extends Error {
  /** code is always "invalid_token" (RFC 6750 §3.1). */
  readonly code = "invalid_token" as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TokenVerificationError";
  }
}

/**
 * KeysUnavailableError means the verification keys could not be read (JWKS unreachable, key source
 * threw): the token was not judged, the caller should fail closed and may retry later.
 */
export class KeysUnavailableError extends Error {
  /** code is always "unavailable". */
  readonly code = "unavailable" as const;
  /** retryable is always true: the same token may verify once the keys are back. */
  readonly retryable = true as const;

  constructor(message = "verification keys are unavailable", options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KeysUnavailableError";
  }
}
