import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { seedClient, startTestServer, type TestServer } from "../support/server.js";

// An independent stack: the browser's gRPC-Web client (@connectrpc/connect-web, not the
// connect-node transports the other RPC tests use), over the fetch API, which speaks HTTP/1.1
// as a browser does to a cleartext port.

describe("gRPC-Web from @connectrpc/connect-web over fetch (HTTP/1.1)", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("registers the seed's client, gets its token and checks it", async () => {
    const requests: { contentType: string | null }[] = [];
    const transport = createGrpcWebTransport({
      baseUrl: t.url,
      fetch: (input, init) => {
        requests.push({ contentType: new Headers(init?.headers).get("content-type") });
        return fetch(input, init);
      },
    });
    const tokens = createClient(TokenService, transport);
    const clients = createClient(OrganizationClientService, transport);
    const admin = await tokens.issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret });
    const auth = { headers: { authorization: `Bearer ${admin.accessToken}` } };

    const client = { ...seedClient, customClaims: seedClient.custom_claims };
    const created = await clients.createOrganizationClient({ organizationId: "org_grpcweb", client }, auth);
    expect(created.client).toMatchObject({ name: seedClient.name, expiry: 3600, organizationId: "org_grpcweb" });
    const id = created.client?.clientId ?? "";
    const issued = await tokens.issueToken({ clientId: id, clientSecret: created.plainSecret });
    expect(issued).toMatchObject({ tokenType: "Bearer", expiresIn: 3600, scope: "deploy:applications read:deployments" });
    const { payload } = await jwtVerify(issued.accessToken, createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`)), {
      issuer: t.issuer,
      audience: "deployment-api.acmecorp.com",
    });
    expect(payload).toMatchObject({ sub: id, oid: "org_grpcweb", github_repository: "acmecorp/inventory-service", environment: "production_us" });
    expect((await tokens.validateToken({ token: issued.accessToken })).valid).toBe(true);

    // A refusal reaches the browser's client with its details (gRPC-Web trailers).
    const refused = await clients.createOrganizationClient({ organizationId: "org_grpcweb", client: { ...client, expiry: 5 } }, auth).then(
      () => expect.unreachable("expiry 5 was accepted"),
      (err: unknown) => ConnectError.from(err),
    );
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(refused.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["expiry"]);
    expect(requests.every((r) => r.contentType === "application/grpc-web+proto")).toBe(true);
    expect(requests).toHaveLength(5);
  });
});
