// The auth interceptor's hooks: what a service is told of each verified and each refused call, so
// it can count them with its own metrics library (this one depends on none).
import type { ConnectError } from "@connectrpc/connect";
import { KeysUnavailableError, TokenVerificationError, type AuthClaims } from "./verification.js";

/**
 * AuthRejectionReason is why a call was refused, a stable code for metrics: no token
 * (`missing_token`), an Authorization header that is not one Bearer credential
 * (`malformed_header`), a token that does not verify (`invalid_token`), or that has expired
 * (`expired`) or was revoked (`revoked`), a token without the method's scopes
 * (`insufficient_scope`), verification keys that could not be read (`keys_unavailable`), or an
 * unexpected failure (`internal`).
 */
export type AuthRejectionReason =
  "missing_token" | "malformed_header" | "invalid_token" | "expired" | "revoked" | "insufficient_scope" | "keys_unavailable" | "internal";

/** AuthVerifiedInfo is what onVerified receives: the verified claims and the procedure, e.g. "/pkg.Service/Method". */
export interface AuthVerifiedInfo {
  claims: AuthClaims;
  method: string;
}

/** AuthRejectedInfo is what onRejected receives: the reason, the procedure, and the error the caller gets. */
export interface AuthRejectedInfo {
  reason: AuthRejectionReason;
  method: string;
  error: ConnectError;
}

/** AuthHooks are the auth interceptor's optional hooks; each runs synchronously, before the handler or the refusal. */
export interface AuthHooks {
  /** onVerified is called for every call admitted with a token (not for public methods). */
  onVerified?: ((info: AuthVerifiedInfo) => void) | undefined;
  /** onRejected is called for every call refused by the interceptor. */
  onRejected?: ((info: AuthRejectedInfo) => void) | undefined;
}

/** rejectionReasonOf names a verification failure by its stable code. */
export function rejectionReasonOf(err: unknown): AuthRejectionReason {
  if (err instanceof KeysUnavailableError) return "keys_unavailable";
  if (err instanceof TokenVerificationError) return err.reason;
  return "internal";
}

/**
 * callHook calls a hook with `info`. A hook that throws, or returns a promise that rejects, is
 * ignored: counting a call must never change its answer, nor crash the process.
 */
export function callHook<T>(hook: ((info: T) => void) | undefined, info: T): void {
  if (hook === undefined) return;
  try {
    const result: unknown = hook(info);
    if (result instanceof Promise) result.catch(() => undefined);
  } catch {
    // Ignored, as documented (docs/interceptor.md).
  }
}
