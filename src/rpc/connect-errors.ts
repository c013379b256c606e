import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { toM2MError, type M2MErrorCode } from "../errors.js";

// The RPC edge: every domain code can reach it (the token, client and signing-key services all
// answer over RPC), so the table is total over M2MErrorCode. Codes are gRPC's canonical codes, as
// Google AIP-193 uses them; an RFC 6749 §5.2 code takes the nearest one.
const connectCodes: Record<M2MErrorCode, Code> = {
  invalid_request: Code.InvalidArgument,
  invalid_client: Code.Unauthenticated,
  unsupported_grant_type: Code.InvalidArgument,
  invalid_scope: Code.InvalidArgument,
  invalid_target: Code.InvalidArgument,
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  permission_denied: Code.PermissionDenied,
  failed_precondition: Code.FailedPrecondition,
  temporarily_unavailable: Code.Unavailable,
  server_error: Code.Internal,
};

/** connectCodeOf is the Connect code a domain code is answered with over RPC. */
export function connectCodeOf(code: M2MErrorCode): Code {
  return connectCodes[code];
}

/**
 * toConnectError maps any error to the ConnectError a caller sees, the one place for RPC codes:
 * a domain error keeps its code and safe message, anything else becomes a generic `internal`
 * with the original kept only as the cause (for the log).
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = toM2MError(err);
  const metadata = e.reason === undefined ? undefined : { "m2m-error-reason": e.reason };
  return new ConnectError(e.message, connectCodes[e.code], metadata, undefined, e);
}

/** errorInterceptor turns whatever a handler throws into the ConnectError a caller may see. */
export const errorInterceptor: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    throw toConnectError(err);
  }
};

// The codes the Connect protocol answers with a 5xx (connectrpc.com/docs/protocol#error-codes):
// the server's fault, not the caller's, so the log keeps their cause.
const serverFaults: ReadonlySet<Code> = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

/** isServerFault says whether an RPC that ended with `code` failed by the server's fault (a 5xx). */
export function isServerFault(code: Code): boolean {
  return serverFaults.has(code);
}

/** faultCause is what to log for a failed RPC: the cause a ConnectError hides, else the error. */
export function faultCause(err: unknown): unknown {
  return err instanceof ConnectError && err.cause !== undefined ? err.cause : err;
}
