import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeysUnavailableError, TokenVerificationError } from "../../src/interceptor/verification.js";
import { createFederatedKeys, UnusableIssuerError, type FederatedKeys } from "../../src/tokens/federated-keys.js";
import { fakeClock } from "../interceptor/fake-clock.js";
import { captureLog } from "../support/log-capture.js";
import { startTestServer } from "../support/server.js";
import { jwtBearer } from "./assertion-fixtures.js";
import { startLocalIssuer, type LocalIssuer } from "./federated-issuer.js";

// How the keys of federated issuers are found and cached: OpenID discovery, then the JWKS, over
// real HTTP to local issuers, on a fake clock. Only configured issuers are fetched.

let issuer: LocalIssuer;
let other: LocalIssuer;
const discovery = "/.well-known/openid-configuration";

beforeAll(async () => {
  [issuer, other] = await Promise.all([startLocalIssuer(), startLocalIssuer()]);
});
afterAll(async () => {
  await Promise.all([issuer.close(), other.close()]);
});

function setup(): { keys: FederatedKeys; clock: ReturnType<typeof fakeClock>; errors: Error[] } {
  const clock = fakeClock();
  const errors: Error[] = [];
  issuer.requests.clear();
  for (const key of Object.keys(issuer.misbehave)) delete issuer.misbehave[key as keyof LocalIssuer["misbehave"]];
  const keys = createFederatedKeys({ issuers: [issuer.url], now: clock.now, timeoutMs: 1000, onIssuerError: (_issuer, err) => void errors.push(err) });
  return { keys, clock, errors };
}

const header = () => ({ alg: "ES256", kid: issuer.es256.kid });
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => "key",
    (err: unknown) => err,
  );

describe("federated issuer keys", () => {
  it("reads the discovery document once while fresh (1 h), then again", async () => {
    const { keys, clock } = setup();
    await keys.resolve(issuer.url, header());
    await keys.resolve(issuer.url, { alg: "RS256", kid: issuer.rs256.kid });
    expect([issuer.requests.get(discovery), issuer.requests.get("/jwks")]).toEqual([1, 1]);
    clock.advance(3_600_001);
    await keys.resolve(issuer.url, header());
    expect(issuer.requests.get(discovery)).toBe(2);
  });

  it("fetches nothing for an issuer that is not configured", async () => {
    const { keys } = setup();
    other.requests.clear();
    expect(await outcome(keys.resolve(other.url, header()))).toBeInstanceOf(UnusableIssuerError);
    expect(other.requests.size).toBe(0);
  });

  it("classifies: an error status 5xx is retryable; another issuer, a foreign jwks_uri, a redirect, a 404 are not", async () => {
    const cases: [LocalIssuer["misbehave"], unknown, RegExp][] = [
      [{ discoveryStatus: 503 }, KeysUnavailableError, /HTTP 503/],
      [{ discoveryIssuer: other.url }, UnusableIssuerError, /not the configured issuer/],
      [{ jwksUri: `${other.url}/jwks` }, UnusableIssuerError, /not on the issuer's origin/],
      [{ redirectTo: `${other.url}${discovery}` }, UnusableIssuerError, /redirect, is not followed/],
      [{ discoveryStatus: 404 }, UnusableIssuerError, /HTTP 404/],
    ];
    other.requests.clear();
    for (const [misbehave, type, message] of cases) {
      const { keys, errors } = setup();
      Object.assign(issuer.misbehave, misbehave);
      const err = await outcome(keys.resolve(issuer.url, header()));
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message).toMatch(message);
      expect(errors).toHaveLength(1);
    }
    // Neither the redirect's target nor the foreign jwks_uri was fetched.
    expect(other.requests.size).toBe(0);
  });

  it("asks a failing issuer at most once per cooldown, and recovers after it", async () => {
    const { keys, clock } = setup();
    issuer.misbehave.discoveryStatus = 500;
    for (let i = 0; i < 3; i++) expect(await outcome(keys.resolve(issuer.url, header()))).toBeInstanceOf(KeysUnavailableError);
    expect(issuer.requests.get(discovery)).toBe(1);
    delete issuer.misbehave.discoveryStatus;
    clock.advance(30_001);
    expect(await outcome(keys.resolve(issuer.url, header()))).toBe("key");
  });

  it("keeps keys it found while a later discovery fails (stale-if-error)", async () => {
    const { keys, clock } = setup();
    await keys.resolve(issuer.url, header());
    issuer.misbehave.discoveryStatus = 502;
    clock.advance(3_600_001);
    expect(await outcome(keys.resolve(issuer.url, header()))).toBe("key");
    expect(issuer.requests.get(discovery)).toBe(2);
  });

  it("refuses a header without kid, or with one the JWKS lacks after one refetch", async () => {
    const { keys } = setup();
    expect(await outcome(keys.resolve(issuer.url, { alg: "ES256" }))).toBeInstanceOf(TokenVerificationError);
    expect(await outcome(keys.resolve(issuer.url, { alg: "ES256", kid: "unknown" }))).toBeInstanceOf(TokenVerificationError);
  });

  it("is logged by the server at warn when an issuer's document is refused", async () => {
    const log = captureLog();
    const liar = await startLocalIssuer();
    liar.misbehave.discoveryIssuer = "https://elsewhere.example";
    const t = await startTestServer({ backend: "memory", logger: log.logger, federated: { federatedIssuers: [liar.url] } });
    try {
      const assertion = await liar.token({ sub: "x", aud: t.issuer });
      const body = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: "m2morg_aaaaaaclient",
        client_assertion_type: jwtBearer,
        client_assertion: assertion,
      });
      expect((await fetch(`${t.url}/oauth/token`, { method: "POST", body })).status).toBe(401);
      expect(log.count("warn", /^federated issuer unusable$/)).toBe(1);
      expect(log.lines.find((line) => line.msg === "federated issuer unusable")).toMatchObject({
        federatedIssuer: liar.url,
        err: expect.stringMatching(/issuer/) as unknown,
      });
    } finally {
      await t.close();
      await liar.close();
    }
  });
});
