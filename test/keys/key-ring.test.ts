import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { createKeyRing } from "../../src/keys/key-ring.js";
import { signJwt } from "../../src/keys/sign-jwt.js";
import type { SigningAlgorithm } from "../../src/keys/algorithms.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";

describe("key ring", () => {
  it.each(["RS256", "ES256", "EdDSA"] as SigningAlgorithm[])("signs %s tokens that jose verifies with the published key", async (alg) => {
    const ring = await createKeyRing({ state: createMemoryStore().state, alg });
    const now = Math.floor(Date.now() / 1000);
    const token = await signJwt(ring.current(), { iss: "i", sub: "s", aud: "a", iat: now, exp: now + 60 });
    expect(decodeProtectedHeader(token)).toEqual({ alg, kid: ring.current().kid, typ: "at+jwt" });
    const jwk = ring.jwks().keys[0]!;
    expect(jwk).toMatchObject({ alg, use: "sig", kid: ring.current().kid });
    expect(jwk.d).toBeUndefined();
    const { payload } = await jwtVerify(token, await importJWK(jwk, alg), { issuer: "i", audience: "a", typ: "at+jwt" });
    expect(payload.sub).toBe("s");
  });

  it("keeps the key in the store: a restart or a second instance signs with the same key", async () => {
    const store = createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() });
    try {
      // Two instances starting at the same moment agree on one key.
      const [a, b] = await Promise.all([createKeyRing({ state: store.state, alg: "ES256" }), createKeyRing({ state: store.state, alg: "ES256" })]);
      expect(a.current().kid).toBe(b.current().kid);
      const restarted = await createKeyRing({ state: store.state, alg: "ES256" });
      expect(restarted.current().kid).toBe(a.current().kid);
      expect(restarted.jwks()).toEqual(a.jwks());
    } finally {
      await store.close();
    }
  });

  it("throws a TypeError naming a missing option", async () => {
    await expect(createKeyRing({ alg: "RS256" } as never)).rejects.toThrow(/options.state/);
  });
});
