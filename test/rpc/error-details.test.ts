import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { seedClient, startTestServer, type TestServer } from "../support/server.js";

// The error details (google.rpc.BadRequest, google.rpc.ErrorInfo) reach a caller over each RPC
// protocol of the real port: in the Connect error JSON, and in gRPC's and gRPC-Web's
// `grpc-status-details-bin`. The grpc-js client's view of the same trailer is in transports.test.ts.

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ backend: "memory" });
});
afterAll(() => t.close());

const transports: [string, () => Transport][] = [
  ["Connect (HTTP/1.1, JSON)", () => createConnectTransport({ baseUrl: t.url, httpVersion: "1.1", useBinaryFormat: false })],
  ["gRPC", () => createGrpcTransport({ baseUrl: t.url })],
  ["gRPC-Web", () => createGrpcWebTransport({ baseUrl: t.url, httpVersion: "1.1" })],
];

const client = {
  name: seedClient.name,
  scopes: seedClient.scopes,
  audience: seedClient.audience,
  customClaims: seedClient.custom_claims,
};

async function refusal(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => expect.unreachable("the call succeeded"),
    (err: unknown) => ConnectError.from(err),
  );
}

describe.each(transports)("error details over %s", (_name, make) => {
  it("name the field at fault, with the stable reason, beside the message", async () => {
    const transport = make();
    const tokens = createClient(TokenService, transport);
    const admin = await tokens.issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret });
    const clients = createClient(OrganizationClientService, transport);
    const err = await refusal(
      clients.createOrganizationClient(
        { organizationId: "org_details", client: { ...client, expiry: 5 } },
        { headers: { authorization: `Bearer ${admin.accessToken}` } },
      ),
    );
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, "expiry: must be 60 to 86400 seconds"]);
    expect(err.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => [v.field, v.description]))).toEqual([
      ["expiry", "must be 60 to 86400 seconds"],
    ]);
    expect(err.findDetails(ErrorInfoSchema).map((i) => [i.reason, i.domain, i.metadata])).toEqual([
      ["INVALID_ARGUMENT", "m2m-auth", { code: "invalid_argument", field: "expiry" }],
    ]);
  });

  it("carry the Bearer refusal's reason when the auth interceptor refuses a call", async () => {
    const transport = make();
    const clients = createClient(OrganizationClientService, transport);
    const missing = await refusal(clients.listOrganizationClients({ organizationId: "org_details" }));
    expect(missing.code).toBe(Code.Unauthenticated);
    expect(missing.findDetails(ErrorInfoSchema).map((i) => [i.reason, i.domain])).toEqual([["AUTHENTICATION_REQUIRED", "m2m-auth"]]);
    const forged = await refusal(clients.listOrganizationClients({ organizationId: "org_details" }, { headers: { authorization: "Bearer not.a.token" } }));
    expect(forged.code).toBe(Code.Unauthenticated);
    expect(forged.findDetails(ErrorInfoSchema).map((i) => [i.reason, i.metadata])).toEqual([["INVALID_TOKEN", { code: "invalid_token" }]]);
  });

  it("carry the OAuth code of a refused client authentication", async () => {
    const err = await refusal(createClient(TokenService, make()).issueToken({ clientId: t.admin.clientId, clientSecret: "wrong" }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.findDetails(ErrorInfoSchema).map((i) => [i.reason, i.metadata])).toEqual([["INVALID_CLIENT", { code: "invalid_client" }]]);
    expect(err.findDetails(BadRequestSchema)).toEqual([]);
  });
});
