import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { InvalidArgumentError, M2MError, m2mErrorCodes, requestIdReusedReason, RequestIdReusedError, type M2MErrorCode } from "../../src/errors.js";
import { connectCodeOf, errorDomain, errorInterceptor, isServerFault, toConnectError } from "../../src/rpc/connect-errors.js";

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
  resource_exhausted: Code.ResourceExhausted,
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

  it("sends every domain error with a google.rpc.ErrorInfo: its stable reason, the domain, the code", async () => {
    for (const code of m2mErrorCodes) {
      const err = await throwing(() => new M2MError(code, `the ${code} message`));
      const info = err.findDetails(ErrorInfoSchema);
      expect(info.map((i) => [i.reason, i.domain, i.metadata])).toEqual([[code.toUpperCase(), errorDomain, { code }]]);
      expect(err.findDetails(BadRequestSchema)).toEqual([]);
    }
    // An unexpected error says no more in its details than in its message.
    const hidden = await throwing(() => new TypeError("a bug with a detail"));
    expect(hidden.findDetails(ErrorInfoSchema).map((i) => [i.reason, i.metadata])).toEqual([["SERVER_ERROR", { code: "server_error" }]]);
  });

  it("names the field at fault in a google.rpc.BadRequest, with the error's own reason where it has one", async () => {
    const err = await throwing(() => new InvalidArgumentError("custom_claims[1].key", '"iss" is a registered claim and cannot be overridden'));
    const [violation] = err.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations);
    expect([violation?.field, violation?.description, violation?.reason]).toEqual([
      "custom_claims[1].key",
      '"iss" is a registered claim and cannot be overridden',
      "",
    ]);
    expect(err.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ code: "invalid_argument", field: "custom_claims[1].key" });
    const reused = await throwing(() => new RequestIdReusedError());
    expect(reused.findDetails(BadRequestSchema)[0]?.fieldViolations[0]).toMatchObject({ field: "request_id", reason: requestIdReusedReason });
    expect(reused.findDetails(ErrorInfoSchema)[0]?.reason).toBe(requestIdReusedReason);
  });

  it("counts as a server fault exactly what the server is to blame for", () => {
    const faults = m2mErrorCodes.filter((code) => isServerFault(connectCodeOf(code)));
    expect(faults).toEqual(["temporarily_unavailable", "server_error"]);
    expect(isServerFault(Code.Unknown)).toBe(true);
    expect(isServerFault(Code.Unauthenticated)).toBe(false);
  });
});
