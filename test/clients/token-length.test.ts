import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CustomClaimSchema, M2MClientSchema, type M2MClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { createTokenVerifier } from "../../src/interceptor/index.js";
import { maxTokenLength } from "../../src/rules.js";
import { largestTokenLength } from "../../src/tokens/token-size.js";
import { managementApi, type ManagementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// The issuer must never mint a token a verifier refuses unparsed (longer than maxTokenLength): a
// client whose largest token would be longer is refused at registration and at update.

const org = "org_token_length";
// 20 custom claims of 64-character keys (the most validation allows of each).
const claims = (valueLength: number) =>
  Array.from({ length: 20 }, (_, i) => ({ key: `claim_${String(i).padStart(2, "0")}_`.padEnd(64, "x"), value: "v".repeat(valueLength) }));

let t: TestServer;
let api: ManagementApi;
beforeAll(async () => {
  t = await startTestServer({ backend: "memory" });
  api = managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret));
});
afterAll(() => t.close());

// The seed client with `custom_claims`, as the service stores it (for the size computation).
function asStored(clientId: string, customClaims: { key: string; value: string }[]): M2MClient {
  return create(M2MClientSchema, {
    ...seedClient,
    clientId,
    organizationId: org,
    customClaims: customClaims.map((claim) => create(CustomClaimSchema, claim)),
  });
}

/** errorOf reads an answer's JSON as an error's. */
const errorOf = (answer: { json: unknown }) => answer.json as { code: string; message: string };

describe("the largest token a client can get", () => {
  it("refuses a client whose token would exceed the verifier's limit, at registration", async () => {
    // The example: 20 × (64, 220) made an 8,420-character token.
    expect(largestTokenLength(asStored("m2morg_aaaaaaaaaaaaaaaaaaaaaaaaaa", claims(220)), t.issuer)).toBeGreaterThan(maxTokenLength);
    const res = await api.call("POST", `${org}/clients`, { ...seedClient, custom_claims: claims(220) });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe("invalid_argument");
    expect(errorOf(res).message).toMatch(new RegExp(`^custom_claims: .* over the ${maxTokenLength}`));
    expect(((await api.call("GET", `${org}/clients`)).json as { clients: unknown[] }).clients).toEqual([]);
  });

  it("refuses an update that would make the token too long, and keeps the client as it was", async () => {
    const { id } = await api.register(org);
    const res = await api.call("PATCH", `${org}/clients/${id}`, { custom_claims: claims(220) });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe("invalid_argument");
    expect(errorOf(res).message).toMatch(/^custom_claims: /);
    const kept = (await api.call("GET", `${org}/clients/${id}`)).json as { client: { custom_claims: unknown } };
    expect(kept.client.custom_claims).toEqual(seedClient.custom_claims);
  });

  it("accepts a client just under the limit, whose real token the verifier accepts", async () => {
    const { id, secret } = await api.register(org);
    // The longest claim values that still fit, by the issuer's own measure.
    let fits = 0;
    while (largestTokenLength(asStored(id, claims(fits + 1)), t.issuer) <= maxTokenLength) fits++;
    expect(fits).toBeGreaterThan(150);
    expect((await api.call("PATCH", `${org}/clients/${id}`, { custom_claims: claims(fits + 1) })).status).toBe(400);
    expect((await api.call("PATCH", `${org}/clients/${id}`, { custom_claims: claims(fits) })).status).toBe(200);

    const token = await getToken(t.url, id, secret);
    expect(token.length).toBeLessThanOrEqual(maxTokenLength);
    // RS256 (the longest signature) and today's 10-digit times: the real token is the worst case.
    expect(token.length).toBe(largestTokenLength(asStored(id, claims(fits)), t.issuer));
    const verifier = createTokenVerifier({ issuer: t.issuer, audience: seedClient.audience[0], jwksUri: `${t.url}/.well-known/jwks.json` });
    const verified = await verifier.verify(token);
    expect(verified.sub).toBe(id);
  });
});
