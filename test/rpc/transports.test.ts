import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";

// The seed flow over every RPC protocol the one port speaks, against the memory and Redis stores.

const seed = {
  name: "GitHub Actions Deployment Service",
  description: "Service account for GitHub Actions to deploy applications to production",
  customClaims: [{ key: "github_repository", value: "acmecorp/inventory-service" }],
  scopes: ["deploy:applications", "read:deployments"],
  audience: ["deployment-api.acmecorp.com"],
  expiry: 3600,
};

for (const backend of ["redis", "memory"] as const) {
  describe(`RPC against the ${backend} store`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ backend });
    });
    afterAll(() => t.close());

    const transports: [string, () => Transport][] = [
      ["Connect (HTTP/1.1, JSON)", () => createConnectTransport({ baseUrl: t.url, httpVersion: "1.1", useBinaryFormat: false })],
      ["Connect (HTTP/2, binary)", () => createConnectTransport({ baseUrl: t.url, httpVersion: "2" })],
      ["gRPC", () => createGrpcTransport({ baseUrl: t.url })],
      ["gRPC-Web", () => createGrpcWebTransport({ baseUrl: t.url, httpVersion: "1.1" })],
    ];

    it.each(transports)("walks the seed flow over %s", async (_name, make) => {
      const transport = make();
      const tokens = createClient(TokenService, transport);
      const clients = createClient(OrganizationClientService, transport);
      const admin = await tokens.issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret });
      const auth = { headers: { authorization: `Bearer ${admin.accessToken}` } };

      const created = await clients.createOrganizationClient({ organizationId: "org_rpc", client: seed }, auth);
      expect(created.plainSecret).toMatch(/^m2msk_/);
      expect(created.client).toMatchObject({ organizationId: "org_rpc", name: seed.name, expiry: 3600 });
      const id = created.client!.clientId;

      const issued = await tokens.issueToken({ grantType: "client_credentials", clientId: id, clientSecret: created.plainSecret });
      expect(issued).toMatchObject({ tokenType: "Bearer", expiresIn: 3600, scope: "deploy:applications read:deployments" });
      const { payload } = await jwtVerify(issued.accessToken, createRemoteJWKSet(new URL(`${t.url}/keys`)), {
        issuer: t.issuer,
        audience: "deployment-api.acmecorp.com",
      });
      expect(payload).toMatchObject({ sub: id, oid: "org_rpc", github_repository: "acmecorp/inventory-service" });

      const validated = await tokens.validateToken({ token: issued.accessToken });
      expect(validated.valid).toBe(true);
      expect(validated.claims).toMatchObject({ sub: id, client_id: id, oid: "org_rpc" });
      expect((await tokens.validateToken({ token: issued.accessToken, audience: "other" })).reason).toBe("audience mismatch");
      expect((await tokens.validateToken({ token: "garbage" })).valid).toBe(false);

      expect((await clients.getOrganizationClient({ organizationId: "org_rpc", clientId: id }, auth)).client?.clientId).toBe(id);
      const list = await clients.listOrganizationClients({ organizationId: "org_rpc", pageSize: 100 }, auth);
      expect(list.clients.map((c) => c.clientId)).toContain(id);
      await clients.deleteOrganizationClient({ organizationId: "org_rpc", clientId: id }, auth);
      await expect(tokens.issueToken({ clientId: id, clientSecret: created.plainSecret })).rejects.toMatchObject({ code: Code.Unauthenticated });
    });

    it("maps errors to Connect codes", async () => {
      const transport = createGrpcTransport({ baseUrl: t.url });
      const tokens = createClient(TokenService, transport);
      const clients = createClient(OrganizationClientService, transport);
      const admin = await tokens.issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret });
      const auth = { headers: { authorization: `Bearer ${admin.accessToken}` } };
      const code = async (p: Promise<unknown>) =>
        ConnectError.from(
          await p.then(
            () => undefined,
            (e: unknown) => e,
          ),
        ).code;

      expect(await code(clients.listOrganizationClients({ organizationId: "org_rpc" }))).toBe(Code.Unauthenticated);
      expect(await code(clients.createOrganizationClient({ organizationId: "org_rpc", client: { ...seed, name: "" } }, auth))).toBe(Code.InvalidArgument);
      expect(await code(clients.getOrganizationClient({ organizationId: "org_rpc", clientId: "m2morg_missing" }, auth))).toBe(Code.NotFound);
      expect(await code(tokens.issueToken({ clientId: t.admin.clientId, clientSecret: "wrong" }))).toBe(Code.Unauthenticated);
      expect(await code(tokens.issueToken({ grantType: "password", clientId: t.admin.clientId, clientSecret: t.admin.clientSecret }))).toBe(
        Code.InvalidArgument,
      );
      expect(await code(tokens.issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret, scope: "nope" }))).toBe(Code.InvalidArgument);
      const err = await clients
        .createOrganizationClient({ organizationId: "org_rpc", client: { ...seed, expiry: 5 } }, auth)
        .catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).rawMessage).toContain("expiry");
    });
  });
}

describe("an independent gRPC client (@grpc/grpc-js with the .proto files)", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("gets a token, registers a client and gets its token, and reads error details", async () => {
    const protoDir = fileURLToPath(new URL("../../proto", import.meta.url));
    const definition = protoLoader.loadSync(["m2mauth/v1/clients.proto", "m2mauth/v1/tokens.proto"], { includeDirs: [protoDir], keepCase: true });
    const pkg = grpc.loadPackageDefinition(definition) as {
      m2mauth: { v1: { TokenService: grpc.ServiceClientConstructor; OrganizationClientService: grpc.ServiceClientConstructor } };
    };
    const address = new URL(t.url).host;
    const tokens = new pkg.m2mauth.v1.TokenService(address, grpc.credentials.createInsecure());
    const clients = new pkg.m2mauth.v1.OrganizationClientService(address, grpc.credentials.createInsecure());
    // A generated client's methods are typed only as Function: a unary call's shape, called on its client.
    type Unary<T> = (req: unknown, md: grpc.Metadata, callback: (err: grpc.ServiceError | null, res: T) => void) => void;
    const call = <T>(client: InstanceType<grpc.ServiceClientConstructor>, method: string, req: unknown, md?: grpc.Metadata) =>
      new Promise<T>((resolve, reject) =>
        (client[method] as Unary<T>).call(client, req, md ?? new grpc.Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
      );

    const admin = await call<{ access_token: string }>(tokens, "IssueToken", { client_id: t.admin.clientId, client_secret: t.admin.clientSecret });
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${admin.access_token}`);
    const created = await call<{ client: { client_id: string; custom_claims: unknown }; plain_secret: string }>(
      clients,
      "CreateOrganizationClient",
      { organization_id: "org_grpcjs", client: { ...seed, customClaims: undefined, custom_claims: seed.customClaims } },
      md,
    );
    expect(created.client.client_id).toMatch(/^m2morg_/);
    expect(created.client.custom_claims).toEqual(seed.customClaims);
    const issued = await call<{ access_token: string; scope: string }>(tokens, "IssueToken", {
      client_id: created.client.client_id,
      client_secret: created.plain_secret,
    });
    expect(issued.scope).toBe("deploy:applications read:deployments");
    const { payload } = await jwtVerify(issued.access_token, createRemoteJWKSet(new URL(`${t.url}/keys`)), {
      issuer: t.issuer,
      audience: "deployment-api.acmecorp.com",
    });
    expect(payload.sub).toBe(created.client.client_id);
    const denied = await call(clients, "ListOrganizationClients", { organization_id: "org_grpcjs" }).catch((e: grpc.ServiceError) => e);
    expect((denied as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);

    // A refused field comes with google.rpc.Status in grpc-status-details-bin, as any gRPC stack reads it.
    const invalid = (await call(clients, "CreateOrganizationClient", { organization_id: "org_grpcjs", client: { ...seed, expiry: 5 } }, md).catch(
      (e: grpc.ServiceError) => e,
    )) as grpc.ServiceError;
    expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
    const [bin] = invalid.metadata.get("grpc-status-details-bin");
    expect(bin).toBeInstanceOf(Buffer);
    const status = fromBinary(StatusSchema, bin as Buffer);
    // (invalid.details is grpc-message as grpc-js decodes it: connect-node percent-encodes ':' and
    // grpc-js's decodeURI leaves "%3A"; the Status in the trailer holds the message as sent.)
    expect([status.code, status.message]).toEqual([grpc.status.INVALID_ARGUMENT, "expiry: must be 60 to 86400 seconds"]);
    const badRequest = status.details.map((d) => anyUnpack(d, BadRequestSchema)).find((d) => d !== undefined);
    expect(badRequest?.fieldViolations.map((v) => v.field)).toEqual(["expiry"]);
    const info = status.details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((d) => d !== undefined);
    expect([info?.reason, info?.domain]).toEqual(["INVALID_ARGUMENT", "m2m-auth"]);
    tokens.close();
    clients.close();
  });
});

describe("hostile RPC input", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ backend: "memory" });
  });
  afterAll(() => t.close());

  it("refuses an oversized or unparseable request body and keeps serving", async () => {
    const big = await fetch(`${t.url}/m2mauth.v1.TokenService/ValidateToken`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "x".repeat(200 * 1024) }),
    });
    expect(big.status).toBeGreaterThanOrEqual(400);
    const garbage = await fetch(`${t.url}/m2mauth.v1.TokenService/IssueToken`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]),
    });
    expect(garbage.status).toBeGreaterThanOrEqual(400);
    // A misspelt field is refused over Connect JSON, as over REST, never silently dropped.
    const misspelt = await fetch(`${t.url}/m2mauth.v1.TokenService/IssueToken`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_id: t.admin.clientId, client_secret: t.admin.clientSecret, scopes: "m2m:clients:read" }),
    });
    expect(misspelt.status).toBe(400);
    const issued = await fetch(`${t.url}/m2mauth.v1.TokenService/IssueToken`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_id: t.admin.clientId, client_secret: t.admin.clientSecret }),
    });
    expect(issued.status).toBe(200);
    expect(issued.headers.get("cache-control")).toBe("no-store");
    expect(((await misspelt.json()) as { code: string }).code).toBe("invalid_argument");
    const ok = await createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" })).validateToken({ token: "a.b.c" });
    expect(ok.valid).toBe(false);
  });
});
