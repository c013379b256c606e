import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Code, ConnectError } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";
import { jwtBearer, newClientKey, signAssertion, type ClientKey } from "../tokens/assertion-fixtures.js";

// Registering, changing and removing a client's public keys (private_key_jwt), over REST and RPC.

let t: TestServer;
let api: ManagementApi;
let key: ClientKey;

beforeAll(async () => {
  t = await startTestServer({ backend: "memory" });
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
  key = await newClientKey("EdDSA");
});
afterAll(() => t.close());

const register = (jwks: unknown) => api.call("POST", "org_jwks/clients", { ...seedClient, jwks });

async function privateJwk(alg: string, options: object = {}): Promise<JWK> {
  return exportJWK((await generateKeyPair(alg, { extractable: true, ...options })).privateKey);
}

describe("client jwks", () => {
  it("registers public keys of every supported type and shows them", async () => {
    const keys = await Promise.all([newClientKey("ES256"), newClientKey("ES384"), newClientKey("RS256"), key]);
    const res = await register({ keys: keys.map((k) => k.publicJwk) });
    expect(res.status).toBe(201);
    expect(res.json.client).toMatchObject({ jwks: { keys: keys.map((k) => ({ kid: k.kid, kty: k.publicJwk.kty })) } });
    expect(res.json.plain_secret).toMatch(/^m2msk_/);
  });

  const bad: [string, () => Promise<unknown>, RegExp][] = [
    ["a private key (d)", async () => ({ keys: [{ ...(await privateJwk("ES256")), kid: "a" }] }), /ClientJwk from JSON: key "d" is unknown/],
    ["a symmetric key", async () => ({ keys: [{ kty: "oct", kid: "a" }] }), /jwks\.keys\[0\]\.kty: must be "RSA", "EC" or "OKP"/],
    ["a key without kid", async () => ({ keys: [{ ...key.publicJwk, kid: undefined }] }), /jwks\.keys\[0\]\.kid: is required/],
    ["a kid listed twice", async () => ({ keys: [key.publicJwk, key.publicJwk] }), /jwks\.keys\[1\]\.kid: .* listed twice/],
    ["six keys", async () => ({ keys: await Promise.all(Array.from({ length: 6 }, async () => (await newClientKey("ES256")).publicJwk)) }), /at most 5/],
    ["an alg that does not suit the key", async () => ({ keys: [{ ...key.publicJwk, alg: "HS256" }] }), /jwks\.keys\[0\]\.alg: "HS256" does not suit/],
    ["an EC key on an unknown curve", async () => ({ keys: [{ ...(await newClientKey("ES256")).publicJwk, crv: "secp256k1" }] }), /crv: must be P-256/],
    ["an EC point off the curve", async () => ({ keys: [{ ...(await newClientKey("ES256")).publicJwk, y: "AAAA" }] }), /not a valid public key/],
    ["an RSA key under 2048 bits", async () => ({ keys: [{ kty: "RSA", kid: "a", n: Buffer.alloc(128, 0xff).toString("base64url"), e: "AQAB" }] }), /2048/],
    ["a use other than sig", async () => ({ keys: [{ ...key.publicJwk, use: "enc" }] }), /use: must be "sig"/],
  ];
  it.each(bad)("refuses %s, naming the field", async (_name, jwks, message) => {
    const res = await register(await jwks());
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(message);
  });

  it("changes keys by PATCH; a client may drop its last secret only while it has keys, and then keeps a key", async () => {
    const { id, client } = await api.register("org_jwks");
    const path = `org_jwks/clients/${id}`;
    expect((await api.call("PATCH", path, { jwks: { keys: [key.publicJwk] } })).json.client).toMatchObject({ jwks: { keys: [{ kid: key.kid }] } });
    const secretId = client.secrets[0]?.id ?? "";
    expect((await api.call("DELETE", `${path}/secrets/${secretId}`)).status).toBe(200);
    const noKeys = await api.call("PATCH", path, { jwks: null });
    expect(noKeys.status).toBe(400);
    expect(noKeys.json.message).toMatch(/no secret/);
    // Authenticates by key alone.
    const jwt = await signAssertion(key, id, `${t.issuer}/oauth/token`);
    const res = await fetch(`${t.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: jwtBearer, client_assertion: jwt }),
    });
    expect(res.status).toBe(200);
  });

  it("refuses to delete the last secret of a client without keys", async () => {
    const { id, client } = await api.register("org_jwks");
    const res = await api.call("DELETE", `org_jwks/clients/${id}/secrets/${client.secrets[0]?.id ?? ""}`);
    expect([res.status, res.json.message]).toEqual([400, expect.stringMatching(/without keys/) as unknown]);
  });

  it("takes keys over gRPC at registration and update, with the same checks", async () => {
    const transport = createGrpcTransport({ baseUrl: t.url });
    const admin = await createClient(TokenService, transport).issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret });
    const clients = createClient(OrganizationClientService, transport);
    const auth = { headers: { authorization: `Bearer ${admin.accessToken}` } };
    const jwk = { kty: "OKP", crv: "Ed25519", x: String(key.publicJwk.x), kid: key.kid };
    const created = await clients.createOrganizationClient(
      { organizationId: "org_jwks", client: { ...seedClient, customClaims: [], jwks: { keys: [jwk] } } },
      auth,
    );
    expect(created.client?.jwks?.keys[0]).toMatchObject(jwk);
    const refused = await clients
      .updateOrganizationClient(
        {
          organizationId: "org_jwks",
          clientId: created.client?.clientId ?? "",
          client: { jwks: { keys: [{ ...jwk, kty: "oct" }] } },
          updateMask: { paths: ["jwks"] },
        },
        auth,
      )
      .then(
        () => undefined,
        (err: unknown) => ConnectError.from(err),
      );
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.rawMessage).toMatch(/jwks\.keys\[0\]\.kty/);
  });
});
