import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { decodeJwt, decodeProtectedHeader, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";
import { createTokenVerifier } from "../../src/interceptor/index.js";
import { keyRetentionMs, maxClockSkewSeconds, maxTokenLifetimeSeconds } from "../../src/rules.js";
import { fakeClock } from "../interceptor/fake-clock.js";
import { managementApi } from "../support/management-api.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// The key-retention bound must cover the longest token a client may get and the largest skew a
// verifier may allow (RFC 7517 §5, RFC 9068 §4): otherwise a rotation strands valid tokens.

describe("key retention", () => {
  it("is at least the longest token lifetime plus the largest clock skew", () => {
    expect(keyRetentionMs).toBeGreaterThanOrEqual((maxTokenLifetimeSeconds + maxClockSkewSeconds) * 1000);
  });

  describe("over the issuer's JWKS", () => {
    const clock = fakeClock(1_700_000_000_000);
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ now: clock.now });
    });
    afterAll(() => t.close());

    // A fresh verifier at the largest skew, reading the issuer's JWKS (or a copy of it) at `ms`.
    const verifierAt = (ms: number, keys?: JSONWebKeySet) => {
      clock.advance(ms - clock.now());
      return createTokenVerifier({
        issuer: t.issuer,
        audience: seedClient.audience[0],
        ...(keys === undefined ? { jwksUri: `${t.url}/.well-known/jwks.json` } : { keys }),
        clockSkewSeconds: maxClockSkewSeconds,
        clock: clock.now,
      });
    };

    it("keeps a token minted with the longest expiry just before a rotation verifiable until exp + the largest skew", async () => {
      const admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
      const client = await managementApi(t.url, admin).register("org_retention", { ...seedClient, expiry: maxTokenLifetimeSeconds });
      // The next key must have been published for the JWKS max-age plus a reload before it may sign.
      clock.advance(302_000);
      const token = await getToken(t.url, client.id, client.secret);
      const keys = createClient(SigningKeyService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
      await keys.rotateSigningKey({}, { headers: { authorization: `Bearer ${admin}` } });
      const { kid } = decodeProtectedHeader(token);
      expect(t.server.keyRing.current().kid).not.toBe(kid);
      const { exp, iat } = decodeJwt(token) as { exp: number; iat: number };
      expect(exp - iat).toBe(maxTokenLifetimeSeconds);

      // The last millisecond a verifier at the largest skew accepts the token: its key is still published.
      const lastAccepted = (exp + maxClockSkewSeconds) * 1000 - 1;
      expect((await verifierAt(lastAccepted).verify(token)).sub).toBe(client.id);
      const published = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      expect(published.keys.map((key) => key.kid)).toContain(kid);
      // A millisecond later the token has expired even for a verifier that still holds its key:
      // only then may the key leave the JWKS.
      await expect(verifierAt(lastAccepted + 1, published).verify(token)).rejects.toThrow(/expired/);
    });
  });
});
