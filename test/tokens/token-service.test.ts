import { describe, expect, it } from "vitest";
import { createClientService } from "../../src/clients/client-service.js";
import { createPageTokens } from "../../src/clients/page-token.js";
import { createSecretHasher } from "../../src/clients/secret-hasher.js";
import { createKeyRing } from "../../src/keys/key-ring.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { createClientAuthenticator } from "../../src/tokens/authenticate.js";
import { createTokenService } from "../../src/tokens/token-service.js";
import { createTokenValidator } from "../../src/tokens/token-validator.js";
import { decodeJwt } from "jose";

async function setup(clock: { now: number }) {
  const store = createMemoryStore();
  const hasher = createSecretHasher({ key: new Uint8Array(32).fill(7) });
  const keyRing = await createKeyRing({ state: store.state, alg: "ES256" });
  const now = () => clock.now;
  const clients = createClientService({
    store: store.clients,
    hasher,
    pageTokens: createPageTokens({ key: hasher.derive("p") }),
    issuer: "https://issuer.test",
    now,
  });
  const tokens = createTokenService({
    authenticator: createClientAuthenticator({ store: store.clients, hasher }),
    keyRing,
    issuer: "https://issuer.test",
    now,
  });
  const validator = createTokenValidator({ issuer: "https://issuer.test", keys: () => keyRing.jwks() });
  const created = await clients.create({ organizationId: undefined, scopes: [] }, "org_1", {
    name: "c",
    description: "",
    customClaims: [],
    scopes: ["a", "b"],
    audience: ["api"],
    expiry: 600,
  } as never);
  const request = { grantType: "client_credentials", clientId: created.client.clientId, clientSecret: created.plainSecret, scope: "", audience: [] };
  return { tokens, validator, request };
}

describe("token lifetime (fake clock)", () => {
  it("sets iat, nbf and exp from the clock and the client's expiry", async () => {
    const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 0, 500) };
    const { tokens, request } = await setup(clock);
    const claims = decodeJwt((await tokens.issue(request)).access_token);
    const iat = Date.UTC(2026, 0, 1, 12) / 1000;
    expect(claims).toMatchObject({ iat, nbf: iat, exp: iat + 600 });
  });

  it("a token minted longer ago than its expiry (plus skew) is not valid; a fresh one is", async () => {
    const clock = { now: Date.now() - 631_000 };
    const { tokens, validator, request } = await setup(clock);
    const old = await tokens.issue(request);
    expect(await validator.validate(old.access_token, "")).toEqual({ valid: false, reason: "token expired" });
    clock.now = Date.now() - 590_000;
    // 590 s old with a 600 s lifetime: still valid.
    expect((await validator.validate((await tokens.issue(request)).access_token, "")).valid).toBe(true);
    clock.now = Date.now() + 120_000;
    // Minted two minutes in the future: beyond the 30 s skew for nbf.
    expect(await validator.validate((await tokens.issue(request)).access_token, "")).toEqual({ valid: false, reason: "token not yet valid" });
  });
});
