import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { validateJwksUri } from "../../src/clients/client-jwks-uri.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";
import { newClientKey, type ClientKey } from "../tokens/assertion-fixtures.js";

// Registering and changing a client's jwks_uri, over REST and gRPC: only on an origin the operator
// allowed (M2M_CLIENT_JWKS_ORIGINS), never beside jwks. Nothing is fetched at registration.

const allowed = "https://keys.acmecorp.example";
let t: TestServer;
let api: ManagementApi;
let key: ClientKey;

beforeAll(async () => {
  t = await startTestServer({ backend: "memory", clientJwks: { clientJwksOrigins: [allowed, "http://127.0.0.1:8999"] } });
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
  key = await newClientKey("ES256");
});
afterAll(() => t.close());

const register = (body: object) => api.call("POST", "org_uri/clients", { ...seedClient, ...body });

describe("validateJwksUri", () => {
  it("refuses every jwks_uri when no origin is allowed, saying the operator must allow it", () => {
    expect(validateJwksUri("", [])).toBe("");
    const err = (() => {
      try {
        validateJwksUri(`${allowed}/jwks.json`, []);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ field: "jwks_uri", code: "invalid_argument" });
    expect((err as Error).message).toMatch(/operator must allow its origin in M2M_CLIENT_JWKS_ORIGINS/);
  });
});

describe("jwks_uri at registration and update", () => {
  it("registers a jwks_uri on an allowed origin and shows it", async () => {
    const res = await register({ jwks_uri: `${allowed}/m2m/jwks.json` });
    expect(res.status).toBe(201);
    expect(res.json.client).toMatchObject({ jwks_uri: `${allowed}/m2m/jwks.json` });
    const got = await api.call("GET", `org_uri/clients/${res.json.client.client_id}`);
    expect(got.json.client).toMatchObject({ jwks_uri: `${allowed}/m2m/jwks.json` });
  });

  it.each([
    ["https://keys.elsewhere.example/jwks.json", /has not allowed: the origin must be listed in M2M_CLIENT_JWKS_ORIGINS/],
    ["https://169.254.169.254/latest/meta-data", /has not allowed/],
    ["https://keys.acmecorp.example:8443/jwks.json", /has not allowed/],
    ["http://keys.acmecorp.example/jwks.json", /must use https/],
    ["http://127.0.0.1:8998/jwks", /has not allowed/],
    ["https://user:pw@keys.acmecorp.example/jwks.json", /user info/],
    ["https://keys.acmecorp.example/jwks.json#k", /fragment/],
    [" https://keys.acmecorp.example/jwks.json", /spaces or control characters/],
    ["/jwks.json", /absolute https URL/],
    [`${allowed}/${"a".repeat(512)}`, /at most 512 characters/],
  ])("refuses %s as invalid_argument naming jwks_uri", async (uri, message) => {
    const res = await register({ jwks_uri: uri });
    expect(res.status).toBe(400);
    expect(res.json.code).toBe("invalid_argument");
    expect(res.json.message).toMatch(/^jwks_uri: /);
    expect(res.json.message).toMatch(message);
  });

  it("refuses jwks and jwks_uri together (RFC 7591 §2), and switches when one is cleared in the same update", async () => {
    const both = await register({ jwks: { keys: [key.publicJwk] }, jwks_uri: `${allowed}/jwks.json` });
    expect(both.status).toBe(400);
    expect(both.json.message).toMatch(/^jwks_uri: a client has jwks or jwks_uri, not both/);
    const id = (await api.register("org_uri", { ...seedClient, jwks: { keys: [key.publicJwk] } })).id;
    const added = await api.call("PATCH", `org_uri/clients/${id}`, { jwks_uri: `${allowed}/jwks.json` });
    expect(added.status).toBe(400);
    expect(added.json.message).toMatch(/not both/);
    const switched = await api.call("PATCH", `org_uri/clients/${id}`, { jwks: null, jwks_uri: `${allowed}/jwks.json` });
    expect(switched.status).toBe(200);
    expect(switched.json.client).toMatchObject({ jwks_uri: `${allowed}/jwks.json` });
    expect(switched.json.client).not.toHaveProperty("jwks");
    const back = await api.call("PATCH", `org_uri/clients/${id}`, { jwks: { keys: [key.publicJwk] }, jwks_uri: "" });
    expect(back.status).toBe(200);
    expect(back.json.client).toMatchObject({ jwks_uri: "", jwks: { keys: [{ kid: key.kid }] } });
  });

  it("lets a client with only a jwks_uri delete its last secret, and refuses clearing the uri then", async () => {
    const registered = await api.register("org_uri", { ...seedClient, jwks_uri: `${allowed}/only.json` });
    const secretId = registered.client.secrets[0]?.id ?? "";
    expect((await api.call("DELETE", `org_uri/clients/${registered.id}/secrets/${secretId}`)).status).toBe(200);
    const cleared = await api.call("PATCH", `org_uri/clients/${registered.id}`, { jwks_uri: "" });
    expect(cleared.status).toBe(400);
    expect(cleared.json.code).toBe("failed_precondition");
  });

  it("takes jwks_uri over gRPC, with the update mask path jwks_uri", async () => {
    const transport = createGrpcTransport({ baseUrl: t.url });
    const rpc = createClient(OrganizationClientService, transport);
    const headers = { authorization: `Bearer ${await getToken(t.url, t.admin.clientId, t.admin.clientSecret)}` };
    const { client } = await rpc.createOrganizationClient(
      { organizationId: "org_uri", client: { ...seedClient, customClaims: seedClient.custom_claims, jwksUri: `${allowed}/rpc.json` } },
      { headers },
    );
    expect(client?.jwksUri).toBe(`${allowed}/rpc.json`);
    const updated = await rpc.updateOrganizationClient(
      { organizationId: "org_uri", clientId: client?.clientId ?? "", client: { jwksUri: `${allowed}/rotated.json` }, updateMask: { paths: ["jwks_uri"] } },
      { headers },
    );
    expect(updated.client?.jwksUri).toBe(`${allowed}/rotated.json`);
    expect(updated.client?.name).toBe(seedClient.name);
    const err = await rpc
      .createOrganizationClient({ organizationId: "org_uri", client: { ...seedClient, customClaims: [], jwksUri: "https://evil.example/jwks" } }, { headers })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toMatch(/^jwks_uri: /);
  });
});
