import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { InvalidArgumentError, ResourceExhaustedError, toM2MError, type M2MError, type M2MErrorCode } from "../errors.js";

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
  resource_exhausted: Code.ResourceExhausted,
  server_error: Code.Internal,
};

/** connectCodeOf is the Connect code a domain code is answered with over RPC. */
export function connectCodeOf(code: M2MErrorCode): Code {
  return connectCodes[code];
}

/** errorDomain is the `domain` of every google.rpc.ErrorInfo the service sends (AIP-193). */
export const errorDomain = "m2m-auth";

/** errorReasonOf is an error's stable ErrorInfo reason: its own, else its code in UPPER_SNAKE_CASE. */
export function errorReasonOf(e: M2MError): string {
  return e.reason ?? e.code.toUpperCase();
}

// The machine-readable details beside the message (AIP-193), so a caller in any language can act
// on the cause without parsing text: always an ErrorInfo with the stable reason and the domain
// code (the RFC 6749 §5.2 or AIP code REST answers), and for a bad field a BadRequest naming it.
// gRPC sends them in `grpc-status-details-bin` (a google.rpc.Status), Connect in the error JSON.
function detailsOf(e: M2MError): ConstructorParameters<typeof ConnectError>[3] {
  const field = e instanceof InvalidArgumentError ? e.field : undefined;
  const metadata: Record<string, string> = field === undefined ? { code: e.code } : { code: e.code, field };
  const info = { desc: ErrorInfoSchema, value: { reason: errorReasonOf(e), domain: errorDomain, metadata } };
  // A throttled caller is told when to come back (google.rpc.RetryInfo), as REST says Retry-After.
  if (e instanceof ResourceExhaustedError) return [info, { desc: RetryInfoSchema, value: { retryDelay: { seconds: BigInt(e.retryAfterSeconds) } } }];
  if (field === undefined) return [info];
  // The message is "<field>: <description>" (errors.ts); the violation carries the description alone.
  const description = e.message.startsWith(`${field}: `) ? e.message.slice(field.length + 2) : e.message;
  const violation = { field, description, reason: e.reason ?? "" };
  return [{ desc: BadRequestSchema, value: { fieldViolations: [violation] } }, info];
}

// The auth interceptor is a library that knows nothing of google.rpc: its refusals carry an
// RFC 6750 §3 Bearer challenge. The server adds the ErrorInfo its own errors carry, the reason
// from the challenge's error code (RFC 6750 §3.1), or AUTHENTICATION_REQUIRED when a request had
// no token (§3.1: no error code then).
function withChallengeInfo(err: ConnectError): ConnectError {
  const challenge = err.metadata.get("www-authenticate");
  if (err.details.length > 0 || challenge === null || !/^\s*bearer\b/i.test(challenge)) return err;
  const code = /\berror="([A-Za-z_]+)"/.exec(challenge)?.[1];
  const reason = code === undefined ? "AUTHENTICATION_REQUIRED" : code.toUpperCase();
  const info = { desc: ErrorInfoSchema, value: { reason, domain: errorDomain, metadata: code === undefined ? {} : { code } } };
  return new ConnectError(err.rawMessage, err.code, err.metadata, [info], err.cause);
}

/**
 * toConnectError maps any error to the ConnectError a caller sees, the one place for RPC codes:
 * a domain error keeps its code and safe message, with its details (google.rpc.ErrorInfo, and
 * google.rpc.BadRequest for a bad field); anything else becomes a generic `internal` with the
 * original kept only as the cause (for the log).
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return withChallengeInfo(err);
  const e = toM2MError(err);
  const metadata = e.reason === undefined ? undefined : { "m2m-error-reason": e.reason };
  return new ConnectError(e.message, connectCodes[e.code], metadata, detailsOf(e), e);
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
