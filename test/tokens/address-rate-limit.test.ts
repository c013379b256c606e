import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { ResourceExhaustedError } from "../../src/errors.js";
import { createAddressRateLimit } from "../../src/tokens/address-rate-limit.js";
import { fakeClock } from "../interceptor/fake-clock.js";
import { getToken, startTestServer } from "../support/server.js";

// ValidateToken is public: each source address may call it `perSecond` times a second per process.

describe("createAddressRateLimit", () => {
  it("lets an address burst perSecond calls, then refills at perSecond, each address apart", () => {
    const clock = fakeClock(1_000_000);
    const limit = createAddressRateLimit({ perSecond: 3, what: "ValidateToken", now: clock.now });
    for (let i = 0; i < 3; i++) limit.take("10.0.0.1");
    expect(() => limit.take("10.0.0.1")).toThrow(ResourceExhaustedError);
    limit.take("10.0.0.2");
    clock.advance(334);
    limit.take("10.0.0.1");
    expect(() => limit.take("10.0.0.1")).toThrow(/too many ValidateToken calls/);
    // An in-process call has no address and is never limited; 0 turns the limit off.
    for (let i = 0; i < 10; i++) limit.take("");
    const off = createAddressRateLimit({ perSecond: 0, what: "ValidateToken", now: clock.now });
    for (let i = 0; i < 10; i++) off.take("10.0.0.1");
    expect(() => createAddressRateLimit({ perSecond: -1, what: "x" })).toThrow(TypeError);
  });

  it("tells how long to wait, and holds a bounded number of addresses", () => {
    const clock = fakeClock(1_000_000);
    const limit = createAddressRateLimit({ perSecond: 1, what: "ValidateToken", now: clock.now, maxAddresses: 2 });
    limit.take("a");
    try {
      limit.take("a");
      expect.unreachable();
    } catch (err) {
      expect((err as ResourceExhaustedError).retryAfterSeconds).toBe(1);
    }
    // A third address pushes out the one idle longest ("a"), which starts afresh.
    limit.take("b");
    limit.take("c");
    limit.take("a");
  });
});

describe("ValidateToken over gRPC", () => {
  it("answers RESOURCE_EXHAUSTED with a RetryInfo past the address's rate; other addresses go on", async () => {
    const t = await startTestServer({ validateTokenPerSecond: 2, trustedProxies: ["127.0.0.1"] });
    try {
      const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: t.url }));
      const token = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
      const from = (address: string) => ({ headers: { "x-forwarded-for": address } });
      expect((await tokens.validateToken({ token }, from("10.9.0.1"))).valid).toBe(true);
      expect((await tokens.validateToken({ token: "garbage" }, from("10.9.0.1"))).valid).toBe(false);
      const err = await tokens.validateToken({ token }, from("10.9.0.1")).then(
        () => expect.unreachable("not limited"),
        (e: unknown) => ConnectError.from(e),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(Number(err.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds)).toBe(1);
      expect((await tokens.validateToken({ token }, from("10.9.0.2"))).valid).toBe(true);
    } finally {
      await t.close();
    }
  });
});
