import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { ResourceServerService } from "../../gen/m2mauth/v1/resource_servers_pb.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// ResourceServerService over Connect and gRPC: the environment's admin manages the registry with
// update masks and paging; an organization's admin is PERMISSION_DENIED even holding the scopes;
// grants are refused INVALID_ARGUMENT with a BadRequest naming the field.

const failure = async (p: Promise<unknown>): Promise<ConnectError> =>
  ConnectError.from(
    await p.then(
      () => new Error("expected a failure"),
      (e: unknown) => e,
    ),
  );

let t: TestServer;
let servers: Client<typeof ResourceServerService>;
let clients: Client<typeof OrganizationClientService>;
let env: { headers: { authorization: string } };
let org: { headers: { authorization: string } };

beforeAll(async () => {
  t = await startTestServer();
  const transport = createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" });
  servers = createClient(ResourceServerService, transport);
  clients = createClient(OrganizationClientService, transport);
  env = { headers: { authorization: `Bearer ${await getToken(t.url, t.admin.clientId, t.admin.clientSecret)}` } };
  const admin = await clients.createOrganizationClient(
    {
      organizationId: "org_a",
      client: { name: "org A admin", scopes: ["m2m:clients:write", "m2m:resource-servers:read", "m2m:resource-servers:write"], audience: [t.issuer] },
    },
    env,
  );
  org = { headers: { authorization: `Bearer ${await getToken(t.url, admin.client?.clientId ?? "", admin.plainSecret)}` } };
});
afterAll(() => t.close());

describe("ResourceServerService", () => {
  it("creates, gets, lists, updates by mask and deletes for the environment's admin", async () => {
    const { resourceServer } = await servers.createResourceServer(
      { resourceServer: { audience: "https://deploy.example.com", name: "Deploy", scopes: [{ name: "deploy:applications" }] } },
      env,
    );
    const id = resourceServer?.id ?? "";
    expect(id).toMatch(/^rs_/);
    expect((await servers.getResourceServer({ id }, env)).resourceServer?.audience).toBe("https://deploy.example.com");
    const page = await servers.listResourceServers({ pageSize: 1 }, env);
    expect(page.resourceServers).toHaveLength(1);
    expect(page.totalSize).toBe(1);
    expect(page.nextPageToken).toBe("");

    // The mask names what changes: the name is kept though the message leaves it empty.
    const updated = await servers.updateResourceServer(
      { id, resourceServer: { scopes: [{ name: "deploy:applications" }, { name: "read:deployments" }] }, updateMask: { paths: ["scopes"] } },
      env,
    );
    expect(updated.resourceServer?.name).toBe("Deploy");
    expect(updated.resourceServer?.scopes.map((s) => s.name)).toEqual(["deploy:applications", "read:deployments"]);
    const moved = await failure(
      servers.updateResourceServer({ id, resourceServer: { audience: "https://other.example.com" }, updateMask: { paths: ["audience"] } }, env),
    );
    expect(moved.code).toBe(Code.InvalidArgument);
    expect(moved.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("audience");

    // gRPC sees the same service.
    const grpc = createClient(ResourceServerService, createGrpcTransport({ baseUrl: t.url }));
    expect((await grpc.getResourceServer({ id }, env)).resourceServer?.name).toBe("Deploy");
    expect((await servers.deleteResourceServer({ id }, env)).clientCount).toBe(0);
    expect((await failure(servers.getResourceServer({ id }, env))).code).toBe(Code.NotFound);
  });

  it("refuses an organization's admin PERMISSION_DENIED even holding the scopes, and a caller without a token UNAUTHENTICATED", async () => {
    const denied = await failure(servers.listResourceServers({}, org));
    expect(denied.code).toBe(Code.PermissionDenied);
    expect((await failure(servers.createResourceServer({ resourceServer: { audience: "x.example.com", name: "X" } }, org))).code).toBe(Code.PermissionDenied);
    expect((await failure(servers.listResourceServers({}))).code).toBe(Code.Unauthenticated);
  });

  it("refuses an ungranted audience over RPC too, naming the field, and a used API's delete FAILED_PRECONDITION", async () => {
    const { resourceServer } = await servers.createResourceServer(
      { resourceServer: { audience: seedClient.audience[0], name: "Deployment API", scopes: seedClient.scopes.map((name) => ({ name })) } },
      env,
    );
    const refused = await failure(
      clients.createOrganizationClient({ organizationId: "org_a", client: { ...seedClient, customClaims: [], audience: ["billing-api.internal"] } }, org),
    );
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(refused.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("audience");
    await clients.createOrganizationClient({ organizationId: "org_a", client: { ...seedClient, customClaims: [] } }, org);
    const used = await failure(servers.deleteResourceServer({ id: resourceServer?.id ?? "" }, env));
    expect(used.code).toBe(Code.FailedPrecondition);
    expect(used.rawMessage).toContain("1 client(s)");
    expect((await servers.deleteResourceServer({ id: resourceServer?.id ?? "", force: true }, env)).clientCount).toBe(1);
  });
});
