import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { decodeProtectedHeader, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";
import { createTokenVerifier } from "../../src/interceptor/index.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// A verifier holding an old JWKS meets a key the real issuer made current after it last fetched:
// the unknown kid triggers one refetch, and the token is accepted.

let t: TestServer;
let client: { id: string; secret: string };
let rotate: () => Promise<void>;

beforeAll(async () => {
  t = await startTestServer();
  const admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  const res = await fetch(`${t.url}/api/v1/organizations/org_rotation/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify(seedClient),
  });
  const json = (await res.json()) as { client: { client_id: string }; plain_secret: string };
  client = { id: json.client.client_id, secret: json.plain_secret };
  const keys = createClient(SigningKeyService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
  rotate = async () => {
    // Forced: the rotation guard would refuse rotating again before verifiers could fetch the
    // next key, and that very case (a kid the verifier has never seen) is what this test makes.
    await keys.rotateSigningKey({ force: true }, { headers: { authorization: `Bearer ${admin}` } });
  };
});
afterAll(() => t.close());

describe("key rotation at the issuer", () => {
  it("is picked up through the unknown-kid refetch", async () => {
    let now = Date.now();
    let fetches = 0;
    const verifier = createTokenVerifier({
      issuer: t.issuer,
      audience: "deployment-api.acmecorp.com",
      keys: {
        jwksUri: `${t.url}/.well-known/jwks.json`,
        fetch: (input, init) => {
          fetches++;
          return fetch(input, init);
        },
      },
      clock: () => now,
    });
    const before = await getToken(t.url, client.id, client.secret);
    await verifier.verify(before);
    expect(fetches).toBe(1);
    const knownKids = ((await (await fetch(`${t.url}/keys`)).json()) as JSONWebKeySet).keys.map((k) => k.kid);

    // Two rotations: the key now current was made after the verifier's fetch.
    await rotate();
    await rotate();
    const after = await getToken(t.url, client.id, client.secret);
    const kid = decodeProtectedHeader(after).kid;
    expect(knownKids).not.toContain(kid);

    // Within the cooldown an unknown kid fails closed without a fetch…
    await expect(verifier.verify(after)).rejects.toThrow(/unknown key id/);
    expect(fetches).toBe(1);
    // …and after it, one refetch finds the new key; the old token still verifies.
    now += 31_000;
    expect((await verifier.verify(after)).sub).toBe(client.id);
    expect(fetches).toBe(2);
    expect((await verifier.verify(before)).sub).toBe(client.id);
  });
});
