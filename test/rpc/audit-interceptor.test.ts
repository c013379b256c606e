import { create, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateOrganizationClientResponseSchema,
  GetOrganizationClientResponseSchema,
  OrganizationClientService,
  UpdateOrganizationClientRequestSchema,
} from "../../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";
import { registerSeedApi, type RestBody } from "../support/management-api.js";
import { auditCodeOf, targetOf } from "../../src/rpc/audit-interceptor.js";
import { captureLog, type CapturedLog } from "../support/log-capture.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// Every management write and every refused management call is one audit line: who (the verified
// token's client and organization), what (the RPC), on what (ids), how it ended, and from where.
// REST and RPC calls alike, each recorded once; never a secret or a token.

let log: CapturedLog;
let t: TestServer;

interface AuditLine {
  audit: true;
  action: string;
  outcome: string;
  actor: Record<string, string>;
  target?: Record<string, string>;
  code?: string;
  reason?: string;
  requestId?: string;
  sourceAddress?: string;
}

const auditLines = () => log.lines.filter((line) => line["audit"] === true) as unknown as AuditLine[];

async function rest(method: string, path: string, token: string | undefined, body?: unknown, requestId?: string) {
  const res = await fetch(`${t.url}/api/v1/organizations/${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(requestId === undefined ? {} : { "x-request-id": requestId }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as RestBody };
}

beforeAll(async () => {
  log = captureLog();
  t = await startTestServer({ logger: log.logger });
});
afterAll(() => t.close());

describe("the management audit", () => {
  it("reads a whole flow's events, in order, over REST, Connect and gRPC, with no secret or token in any line", async () => {
    const secrets: string[] = [t.admin.clientSecret];
    const envToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const connect = createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" });
    const grpc = createGrpcTransport({ baseUrl: t.url });
    // Organization admins grant only registered APIs (resource-server-grants.test.ts).
    await registerSeedApi(t.url, envToken);
    const start = auditLines().length;

    // 1. The environment's admin makes an organization admin (REST), with the caller's request id.
    const made = await rest(
      "POST",
      "org_a/clients",
      envToken,
      { name: "org admin", scopes: ["m2m:clients:read", "m2m:clients:write"], audience: [t.issuer] },
      "req-flow-1",
    );
    expect(made.status).toBe(201);
    const adminId = made.json.client.client_id;
    const adminSecretId = made.json.client.secrets[0]!.id;
    secrets.push(made.json.plain_secret);
    const orgToken = await getToken(t.url, adminId, made.json.plain_secret);
    const orgHeaders = { authorization: `Bearer ${orgToken}` };

    // 2. It makes a client (Connect), 3. updates it (REST), 4. adds a secret (gRPC), 5. deletes that
    // secret (REST), 6. deletes the client (Connect). A read in between is not audited.
    const clients = createClient(OrganizationClientService, connect);
    const created = await clients.createOrganizationClient(
      { organizationId: "org_a", client: { name: seedClient.name, scopes: seedClient.scopes, audience: seedClient.audience } },
      { headers: { ...orgHeaders, "x-request-id": "req-flow-2" } },
    );
    secrets.push(created.plainSecret);
    const clientId = created.client!.clientId;
    const firstSecretId = created.client!.secrets[0]!.id;
    expect((await rest("GET", `org_a/clients/${clientId}`, orgToken)).status).toBe(200);
    expect((await rest("PATCH", `org_a/clients/${clientId}`, orgToken, { name: "renamed" })).status).toBe(200);
    const added = await createClient(OrganizationClientService, grpc).createOrganizationClientSecret(
      { organizationId: "org_a", clientId },
      { headers: orgHeaders },
    );
    secrets.push(added.plainSecret);
    const secretId = added.secret!.id;
    expect((await rest("DELETE", `org_a/clients/${clientId}/secrets/${secretId}`, orgToken)).status).toBe(200);
    await clients.deleteOrganizationClient({ organizationId: "org_a", clientId }, { headers: orgHeaders });

    // 7. The environment's admin rotates the signing key (Connect).
    const rotated = await createClient(SigningKeyService, connect).rotateSigningKey({ force: true }, { headers: { authorization: `Bearer ${envToken}` } });
    const kid = rotated.key!.kid;

    // 8. Refused: another organization (a read: refusals are audited for reads too), and no token at all.
    expect((await rest("GET", "org_b/clients", orgToken, undefined, "req-flow-8")).status).toBe(403);
    expect((await rest("GET", "org_a/clients", undefined)).status).toBe(401);

    // 9. A write with bad input (Connect): a scope that is not an RFC 6749 §3.3 scope token.
    const bad = await clients
      .createOrganizationClient(
        { organizationId: "org_a", client: { name: "bad", scopes: ['bad"scope'], audience: ["api.example.com"] } },
        { headers: orgHeaders },
      )
      .catch((e: unknown) => ConnectError.from(e));
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);

    // 10. A client authentication that fails at the token endpoint: the deleted client's secret.
    const failed = await fetch(`${t.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-request-id": "req-flow-10" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secrets[2] as string }),
    });
    expect(failed.status).toBe(401);

    const lines = auditLines().slice(start);
    const env = { clientId: t.admin.clientId };
    const org = { clientId: adminId, organizationId: "org_a" };
    expect(lines.map(({ action, outcome, actor, target, code }) => ({ action, outcome, actor, target, ...(code === undefined ? {} : { code }) }))).toEqual([
      { action: "CreateOrganizationClient", outcome: "success", actor: env, target: { organizationId: "org_a", clientId: adminId, secretId: adminSecretId } },
      { action: "CreateOrganizationClient", outcome: "success", actor: org, target: { organizationId: "org_a", clientId, secretId: firstSecretId } },
      { action: "UpdateOrganizationClient", outcome: "success", actor: org, target: { organizationId: "org_a", clientId } },
      { action: "CreateOrganizationClientSecret", outcome: "success", actor: org, target: { organizationId: "org_a", clientId, secretId } },
      { action: "DeleteOrganizationClientSecret", outcome: "success", actor: org, target: { organizationId: "org_a", clientId, secretId } },
      { action: "DeleteOrganizationClient", outcome: "success", actor: org, target: { organizationId: "org_a", clientId } },
      { action: "RotateSigningKey", outcome: "success", actor: env, target: { keyId: kid } },
      { action: "ListOrganizationClients", outcome: "refused", actor: org, target: { organizationId: "org_b" }, code: "permission_denied" },
      { action: "ListOrganizationClients", outcome: "refused", actor: {}, target: { organizationId: "org_a" }, code: "unauthenticated" },
      { action: "CreateOrganizationClient", outcome: "failure", actor: org, target: { organizationId: "org_a" }, code: "invalid_argument" },
      { action: "AuthenticateClient", outcome: "failure", actor: {}, target: { clientId }, code: "invalid_client" },
    ]);
    // Where each call came from: the caller's own request id when it sent one, else the one made for it.
    for (const line of lines) {
      expect(line.sourceAddress).toBe("127.0.0.1");
      expect(line.requestId).toMatch(/^[\w.:@/+=-]{1,128}$/);
    }
    expect(lines.map((line) => line.requestId)).toEqual(expect.arrayContaining(["req-flow-1", "req-flow-2", "req-flow-8"]));
    expect(lines[0]!.requestId).toBe("req-flow-1");
    expect(lines[1]!.requestId).toBe("req-flow-2");
    expect(lines[7]!.requestId).toBe("req-flow-8");
    expect(lines[10]!.requestId).toBe("req-flow-10");
    expect(new Set(lines.map((line) => line.requestId)).size).toBe(lines.length);
    expect(lines[9]!.reason).toContain("scopes");

    // Not one line of the whole log holds a secret or a token used in the flow.
    const everything = JSON.stringify(log.lines);
    for (const secret of [...secrets, envToken, orgToken]) expect(everything).not.toContain(secret);
  });

  it("records a refusal by the caller check: a deleted admin's token, with its client as the actor", async () => {
    const envToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const made = await rest("POST", "org_c/clients", envToken, {
      name: "short-lived admin",
      scopes: ["m2m:clients:read", "m2m:clients:write"],
      audience: [t.issuer],
    });
    const adminId = made.json.client.client_id;
    const token = await getToken(t.url, adminId, made.json.plain_secret);
    expect((await rest("DELETE", `org_c/clients/${adminId}`, envToken)).status).toBe(200);
    const start = auditLines().length;
    expect((await rest("POST", "org_c/clients", token, seedClient)).status).toBe(401);
    expect(auditLines().slice(start)).toMatchObject([
      {
        action: "CreateOrganizationClient",
        outcome: "refused",
        actor: { clientId: adminId, organizationId: "org_c" },
        code: "unauthenticated",
        target: { organizationId: "org_c" },
      },
    ]);
  });
});

describe("the automatic key rotation's audit", () => {
  it("is one event with the schedule as the actor and the new signing key as the target", async () => {
    const own = captureLog();
    let now = 1_800_000_000_000;
    const server = await startTestServer({ logger: own.logger, now: () => now, keys: { keyRotationDays: 1, keyRotationCheckIntervalMs: 20 } });
    try {
      const first = server.server.keyRing.current().kid;
      now += 2 * 86_400_000;
      const deadline = Date.now() + 5000;
      while (server.server.keyRing.current().kid === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const kid = server.server.keyRing.current().kid;
      expect(kid).not.toBe(first);
      expect(own.lines.filter((line) => line["audit"] === true)).toMatchObject([
        { action: "RotateSigningKey", outcome: "success", actor: { system: "key-rotation-schedule" }, target: { keyId: kid } },
      ]);
    } finally {
      await server.close();
    }
  });
});

describe("an audit event's target and code", () => {
  const methods = OrganizationClientService.method;

  it("names a new client's one secret, but not the secrets an answer about an existing client lists", () => {
    const client = { clientId: "m2morg_new", organizationId: "org_a", secrets: [{ id: "sks_first" }] };
    const made = create(CreateOrganizationClientResponseSchema, { client, plainSecret: "never-in-a-target" });
    expect(targetOf(methods.createOrganizationClient, { organizationId: "org_a", requestId: "" }, made)).toEqual({
      organizationId: "org_a",
      clientId: "m2morg_new",
      secretId: "sks_first",
    });
    const request = create(UpdateOrganizationClientRequestSchema, { organizationId: "org_a", clientId: "m2morg_new" });
    const answer = create(GetOrganizationClientResponseSchema, { client });
    expect(targetOf(methods.updateOrganizationClient, request, answer)).toEqual({ organizationId: "org_a", clientId: "m2morg_new" });
    expect(targetOf(methods.listOrganizationClients, {}, undefined)).toBeUndefined();
  });

  it("reads a resource server's id by name from the request or the new one from the answer, for that service only", () => {
    const service = { typeName: "m2mauth.v1.ResourceServerService" };
    const method = (name: string) => ({ name, parent: service }) as unknown as DescMethod;
    expect(targetOf(method("DeleteResourceServer"), { id: "rs_1", force: true }, undefined)).toEqual({ resourceServerId: "rs_1" });
    expect(targetOf(method("UpdateResourceServer"), { resourceServer: { id: "rs_2" } }, undefined)).toEqual({ resourceServerId: "rs_2" });
    expect(targetOf(method("CreateResourceServer"), { resourceServer: { audience: "api" } }, { resourceServer: { id: "rs_3" } })).toEqual({
      resourceServerId: "rs_3",
    });
    // Another service's `id` is not a resource server's.
    expect(targetOf(methods.getOrganizationClient, { id: "x" }, undefined)).toBeUndefined();
  });

  it("spells every Connect code as gRPC's name in snake case", () => {
    expect(auditCodeOf(Code.PermissionDenied)).toBe("permission_denied");
    expect(auditCodeOf(Code.Unauthenticated)).toBe("unauthenticated");
    expect(auditCodeOf(Code.ResourceExhausted)).toBe("resource_exhausted");
    expect(auditCodeOf(Code.InvalidArgument)).toBe("invalid_argument");
    expect(auditCodeOf(Code.FailedPrecondition)).toBe("failed_precondition");
    expect(auditCodeOf(Code.DataLoss)).toBe("data_loss");
  });
});
