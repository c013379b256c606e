import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { managementApi, type RegisteredClient } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// IntrospectToken, RevokeToken and IssueToken's `resource`, over gRPC: the same paths as the OAuth endpoints.

let t: TestServer;
let tokens: Client<typeof TokenService>;
let owner: RegisteredClient;
let stranger: RegisteredClient;

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

beforeAll(async () => {
  t = await startTestServer();
  tokens = createClient(TokenService, createGrpcTransport({ baseUrl: t.url }));
  const api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
  owner = await api.register("org_rpc_introspect", { ...seedClient, audience: ["api-a", "api-b"] });
  stranger = await api.register("org_rpc_other");
});
afterAll(() => t.close());

describe("TokenService over gRPC", () => {
  it("IntrospectToken answers active with the claims (and token_type) for the token's own client, without an access token", async () => {
    const token = await getToken(t.url, owner.id, owner.secret);
    const answer = await tokens.introspectToken({ clientId: owner.id, clientSecret: owner.secret, token });
    expect(answer.active).toBe(true);
    expect(answer.claims).toEqual({ ...decodeJwt(token), token_type: "Bearer" });
  });

  it("IntrospectToken answers inactive, with no claims, for garbage and for another organization's caller", async () => {
    const token = await getToken(t.url, owner.id, owner.secret);
    for (const [who, what] of [
      [owner, "garbage"],
      [stranger, token],
    ] as const) {
      const answer = await tokens.introspectToken({ clientId: who.id, clientSecret: who.secret, token: what });
      expect([answer.active, answer.claims]).toEqual([false, undefined]);
    }
  });

  it("IntrospectToken and RevokeToken refuse bad credentials (UNAUTHENTICATED) and a missing token (INVALID_ARGUMENT)", async () => {
    const token = await getToken(t.url, owner.id, owner.secret);
    expect(await codeOf(tokens.introspectToken({ clientId: owner.id, clientSecret: "wrong", token }))).toBe(Code.Unauthenticated);
    expect(await codeOf(tokens.revokeToken({ clientId: "", clientSecret: "", token }))).toBe(Code.Unauthenticated);
    expect(await codeOf(tokens.introspectToken({ clientId: owner.id, clientSecret: owner.secret, token: "" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(tokens.revokeToken({ clientId: owner.id, clientSecret: owner.secret, token: "" }))).toBe(Code.InvalidArgument);
  });

  it("RevokeToken revokes the caller's own token, ignores another's, and ValidateToken sees it at once", async () => {
    const token = await getToken(t.url, owner.id, owner.secret);
    await tokens.revokeToken({ clientId: stranger.id, clientSecret: stranger.secret, token });
    expect((await tokens.validateToken({ token })).valid).toBe(true);
    await tokens.revokeToken({ clientId: owner.id, clientSecret: owner.secret, token });
    expect(await tokens.validateToken({ token })).toMatchObject({ valid: false, reason: "token revoked" });
    expect((await tokens.introspectToken({ clientId: owner.id, clientSecret: owner.secret, token })).active).toBe(false);
  });

  it("IssueToken takes RFC 8707 resource with audience, and refuses an unregistered one (INVALID_ARGUMENT, invalid_target)", async () => {
    const issued = await tokens.issueToken({ clientId: owner.id, clientSecret: owner.secret, resource: ["api-b"] });
    expect(decodeJwt(issued.accessToken).aud).toBe("api-b");
    const both = await tokens.issueToken({ clientId: owner.id, clientSecret: owner.secret, audience: ["api-a"], resource: ["api-b"] });
    expect(decodeJwt(both.accessToken).aud).toEqual(["api-a", "api-b"]);
    expect(await codeOf(tokens.issueToken({ clientId: owner.id, clientSecret: owner.secret, resource: ["https://elsewhere.test/"] }))).toBe(
      Code.InvalidArgument,
    );
  });
});
