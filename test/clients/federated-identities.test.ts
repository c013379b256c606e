import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { subjectMatches } from "../../src/clients/federated-identities.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// Registering, changing and removing a client's federated identities, over REST and gRPC. Nothing
// is fetched at registration: the issuer must merely be one the operator configured.

const github = "https://token.actions.githubusercontent.com";
const cluster = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE";
let t: TestServer;
let api: ManagementApi;

interface Identity {
  issuer: string;
  subject: string;
  audience?: string;
}

beforeAll(async () => {
  t = await startTestServer({ backend: "memory", federated: { federatedIssuers: [github, cluster] } });
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
});
afterAll(() => t.close());

const register = (identities: Identity[]) => api.call("POST", "org_fed/clients", { ...seedClient, federated_identities: identities });
const identitiesOf = (client: unknown) => (client as { federated_identities: Identity[] }).federated_identities;

describe("federated identities at registration", () => {
  it("registers identities, the audience defaulting to our issuer URL, and shows them", async () => {
    const res = await register([
      { issuer: github, subject: "repo:acmecorp/inventory-service:ref:refs/heads/main" },
      { issuer: cluster, subject: "system:serviceaccount:deploy:*", audience: "https://m2m.acmecorp.example" },
    ]);
    expect(res.status).toBe(201);
    expect(identitiesOf(res.json.client)).toEqual([
      { issuer: github, subject: "repo:acmecorp/inventory-service:ref:refs/heads/main", audience: t.issuer },
      { issuer: cluster, subject: "system:serviceaccount:deploy:*", audience: "https://m2m.acmecorp.example" },
    ]);
  });

  const bad: [string, Identity[], RegExp][] = [
    [
      "an issuer not configured",
      [{ issuer: "https://evil.example", subject: "x" }],
      /federated_identities\[0\]\.issuer: must be one of the configured issuers/,
    ],
    ["an internal address", [{ issuer: "http://169.254.169.254", subject: "x" }], /issuer: must be one of the configured/],
    ["the issuer written differently (trailing slash)", [{ issuer: `${github}/`, subject: "x" }], /issuer: must be one of the configured/],
    ["an empty subject", [{ issuer: github, subject: "" }], /federated_identities\[0\]\.subject: must be 1-256/],
    ["a subject of 257 characters", [{ issuer: github, subject: "a".repeat(257) }], /subject: must be 1-256/],
    ["a lone *", [{ issuer: github, subject: "*" }], /subject: may hold one "\*", only as its last character and after a prefix/],
    ["a * inside", [{ issuer: github, subject: "repo:*:ref:refs/heads/main" }], /subject: may hold one "\*"/],
    ["two *", [{ issuer: github, subject: "repo:acme/*:*" }], /subject: may hold one "\*"/],
    ["a control character", [{ issuer: github, subject: "repo:a\nb" }], /subject: must be 1-256 characters without control/],
    ["an audience with a space", [{ issuer: github, subject: "x", audience: "a b" }], /audience: must be at most 256/],
    [
      "an identity listed twice",
      [
        { issuer: github, subject: "x" },
        { issuer: github, subject: "x", audience: "http://m2m-auth.test" },
      ],
      /\[1\]: is listed twice/,
    ],
    ["eleven identities", Array.from({ length: 11 }, (_, i) => ({ issuer: github, subject: `s${i}` })), /at most 10 identities/],
  ];
  it.each(bad)("refuses %s, naming the field", async (_name, identities, message) => {
    const res = await register(identities);
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(message);
  });

  it("refuses every identity when no issuer is configured", async () => {
    const bare = await startTestServer({ backend: "memory" });
    try {
      const bareApi = managementApi(bare.url, await getToken(bare.url, bare.admin.clientId, bare.admin.clientSecret));
      const res = await bareApi.call("POST", "org_fed/clients", { ...seedClient, federated_identities: [{ issuer: github, subject: "x" }] });
      expect([res.status, res.json.message]).toEqual([400, expect.stringMatching(/no federated issuers are configured/) as unknown]);
    } finally {
      await bare.close();
    }
  });

  it("changes identities by PATCH; a client may drop its last secret while it has one, and then keeps one", async () => {
    const { id, client } = await api.register("org_fed");
    const path = `org_fed/clients/${id}`;
    const patched = await api.call("PATCH", path, { federated_identities: [{ issuer: github, subject: "repo:acmecorp/svc:*" }] });
    expect(identitiesOf(patched.json.client)).toEqual([{ issuer: github, subject: "repo:acmecorp/svc:*", audience: t.issuer }]);
    // Another field changes without touching them.
    expect(identitiesOf((await api.call("PATCH", path, { description: "deploys" })).json.client)).toHaveLength(1);
    expect((await api.call("DELETE", `${path}/secrets/${client.secrets[0]?.id ?? ""}`)).status).toBe(200);
    const none = await api.call("PATCH", path, { federated_identities: [] });
    expect([none.status, none.json.message]).toEqual([400, expect.stringMatching(/no secret/) as unknown]);
  });

  it("takes identities over gRPC at registration and update (update_mask), with the same checks", async () => {
    const transport = createGrpcTransport({ baseUrl: t.url });
    const admin = await createClient(TokenService, transport).issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret });
    const clients = createClient(OrganizationClientService, transport);
    const auth = { headers: { authorization: `Bearer ${admin.accessToken}` } };
    const created = await clients.createOrganizationClient(
      {
        organizationId: "org_fed",
        client: { ...seedClient, customClaims: [], federatedIdentities: [{ issuer: cluster, subject: "system:serviceaccount:ns:app" }] },
      },
      auth,
    );
    expect(created.client?.federatedIdentities[0]).toMatchObject({ issuer: cluster, subject: "system:serviceaccount:ns:app", audience: t.issuer });
    const refused = await clients
      .updateOrganizationClient(
        {
          organizationId: "org_fed",
          clientId: created.client?.clientId ?? "",
          client: { federatedIdentities: [{ issuer: "https://attacker.example", subject: "x" }] },
          updateMask: { paths: ["federated_identities"] },
        },
        auth,
      )
      .then(
        () => undefined,
        (err: unknown) => ConnectError.from(err),
      );
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.rawMessage).toMatch(/federated_identities\[0\]\.issuer/);
  });
});

describe("subjectMatches", () => {
  it("matches exactly, or by the prefix before a trailing * followed by at least one character", () => {
    expect(subjectMatches("repo:acme/svc:ref:refs/heads/main", "repo:acme/svc:ref:refs/heads/main")).toBe(true);
    expect(subjectMatches("repo:acme/svc:ref:refs/heads/main", "repo:acme/svc:ref:refs/heads/main2")).toBe(false);
    expect(subjectMatches("repo:acme/svc:*", "repo:acme/svc:environment:prod")).toBe(true);
    expect(subjectMatches("repo:acme/svc:*", "repo:acme/svc:")).toBe(false);
    expect(subjectMatches("repo:acme/svc:*", "repo:acme/svc2:ref:refs/heads/main")).toBe(false);
    // The * is literal in a token's sub: no pattern on that side.
    expect(subjectMatches("repo:acme/svc:x", "repo:acme/svc:*")).toBe(false);
    expect(subjectMatches("*", "anything")).toBe(false);
  });
});
