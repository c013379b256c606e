import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { M2MError, m2mErrorCodes, requestIdReusedReason, RequestIdReusedError, type M2MErrorCode } from "../../src/errors.js";
import { connectCodeOf, errorInterceptor, isServerFault, toConnectError } from "../../src/rpc/connect-errors.js";

// The RPC edge answers every domain code: each one, thrown by a handler, reaches the caller with
// its Connect code and safe message; anything else is a generic `internal`.

const expected: Record<M2MErrorCode, Code> = {
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

// A service whose handler throws what the test names, behind the server's error interceptor.
function throwing(thrown: () => unknown) {
  const transport = createRouterTransport(
    (router) =>
      router.service(TokenService, {
        issueToken: () => {
          throw thrown();
        },
        validateToken: () => {
          throw thrown();
        },
      }),
    { router: { interceptors: [errorInterceptor] } },
  );
  return createClient(TokenService, transport)
    .issueToken({})
    .then(
      () => expect.unreachable("the call succeeded"),
      (err: unknown) => ConnectError.from(err),
    );
}

describe("the RPC edge's error table", () => {
  it("answers every domain code over a transport, with its code and message", async () => {
    expect(m2mErrorCodes).toHaveLength(Object.keys(expected).length);
    for (const code of m2mErrorCodes) {
      const err = await throwing(() => new M2MError(code, `the ${code} message`));
      expect([code, err.code, err.rawMessage]).toEqual([code, expected[code], `the ${code} message`]);
      expect(connectCodeOf(code)).toBe(expected[code]);
    }
  });

  it("hides an unexpected error as internal, keeping it as the cause for the log", async () => {
    const err = await throwing(() => new TypeError("a bug with a detail"));
    expect([err.code, err.rawMessage]).toEqual([Code.Internal, "internal error"]);
    const local = toConnectError(new TypeError("a bug with a detail"));
    expect((local.cause as Error).cause).toEqual(new TypeError("a bug with a detail"));
  });

  it("sends an error's reason as m2m-error-reason, and passes a ConnectError through", async () => {
    const err = await throwing(() => new RequestIdReusedError());
    expect([err.code, err.metadata.get("m2m-error-reason")]).toEqual([Code.InvalidArgument, requestIdReusedReason]);
    const connect = new ConnectError("no", Code.Unauthenticated);
    expect(toConnectError(connect)).toBe(connect);
  });

  it("counts as a server fault exactly what the server is to blame for", () => {
    const faults = m2mErrorCodes.filter((code) => isServerFault(connectCodeOf(code)));
    expect(faults).toEqual(["temporarily_unavailable", "server_error"]);
    expect(isServerFault(Code.Unknown)).toBe(true);
    expect(isServerFault(Code.Unauthenticated)).toBe(false);
  });
});
