import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUDIENCE,
  bearer,
  claims,
  clients,
  failure,
  hmacWithPublicKey,
  ISSUE,
  ISSUER,
  jwksOf,
  makeKey,
  now,
  serveJson,
  sign,
  startServer,
  transports,
  unsecured,
  type OrgClient,
  type TestKey,
  type TestServer,
  type TokenClient,
} from "./fixtures.js";

let rs: TestKey;
let es: TestKey;
let ed: TestKey;
let foreign: TestKey;

beforeAll(async () => {
  [rs, es, ed, foreign] = await Promise.all([makeKey("RS256", "rs-1"), makeKey("ES256", "es-1"), makeKey("EdDSA", "ed-1"), makeKey("RS256", "foreign-1")]);
});

describe.each(transports)("auth interceptor over %s", (_name, makeTransport) => {
  let server: TestServer;
  let org: OrgClient;
  let tokens: TokenClient;

  beforeAll(async () => {
    server = await startServer({ issuer: ISSUER, audience: AUDIENCE, keys: jwksOf(rs, es, ed), publicMethods: [ISSUE] });
    ({ org, tokens } = clients(makeTransport(server.baseUrl)));
  });
  afterAll(() => server.close());

  const get = (token: string) => org.getOrganizationClient({ organizationId: "org_42" }, bearer(token));

  async function rejected(token: string, message: string): Promise<void> {
    const err = await failure(get(token));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(message);
    expect(err.rawMessage).not.toContain(token);
    expect(err.metadata.get("www-authenticate")).toBe(`Bearer error="invalid_token", error_description="${message}"`);
  }

  it.each(["RS256", "ES256", "EdDSA"])("admits a valid %s token and hands its claims to the handler", async (alg) => {
    const key = { RS256: rs, ES256: es, EdDSA: ed }[alg] as TestKey;
    const res = await get(await sign(key, claims({ sub: "m2morg_caller" })));
    expect(res.client?.clientId).toBe("m2morg_caller");
    expect(res.client?.organizationId).toBe("org_42");
    expect(res.client?.scopes).toEqual(["m2m:clients:read"]);
  });

  it("refuses a call without an Authorization header, with a bare challenge", async () => {
    const err = await failure(org.getOrganizationClient({}));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe("missing bearer token");
    expect(err.metadata.get("www-authenticate")).toBe("Bearer");
  });

  it.each(["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Bearer a,b", "Token abc"])("refuses the malformed header %j", async (value) => {
    const err = await failure(org.getOrganizationClient({}, { headers: { authorization: value } }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe("malformed authorization header");
    expect(err.metadata.get("www-authenticate")).toContain('error="invalid_request"');
  });

  it("takes the scheme name in any case (RFC 6750 §2.1)", async () => {
    const token = await sign(rs);
    const res = await org.getOrganizationClient({}, { headers: { authorization: `bEaReR ${token}` } });
    expect(res.client?.clientId).toBe("m2morg_abc123");
  });

  it("refuses an expired token", async () => {
    await rejected(await sign(rs, claims({ iat: now() - 600, exp: now() - 120 })), "token expired");
  });

  it("refuses a token whose nbf is beyond the clock skew", async () => {
    await rejected(await sign(rs, claims({ nbf: now() + 120 })), "token not yet valid");
  });

  it("accepts exp and nbf within the 30 s clock skew", async () => {
    const res = await get(await sign(rs, claims({ iat: now() - 600, nbf: now() + 10, exp: now() - 10 })));
    expect(res.client?.clientId).toBe("m2morg_abc123");
  });

  it("refuses a token from another issuer", async () => {
    await rejected(await sign(rs, claims({ iss: "https://evil.test" })), "issuer mismatch");
  });

  it("refuses a token for another audience", async () => {
    await rejected(await sign(rs, claims({ aud: ["https://other.test"] })), "audience mismatch");
  });

  it("accepts an aud array that contains ours, and a plain string aud", async () => {
    await expect(get(await sign(rs, claims({ aud: ["https://other.test", AUDIENCE] })))).resolves.toBeDefined();
    await expect(get(await sign(rs, claims({ aud: AUDIENCE })))).resolves.toBeDefined();
  });

  it("refuses a token whose typ is not at+jwt (RFC 9068 §4)", async () => {
    await rejected(await sign(rs, claims(), { typ: "JWT" }), "typ must be at+jwt");
    await rejected(await sign(rs, claims(), { typ: undefined }), "typ must be at+jwt");
    await expect(get(await sign(rs, claims(), { typ: "application/at+jwt" }))).resolves.toBeDefined();
  });

  it("refuses an unsecured alg=none token", async () => {
    await rejected(unsecured(claims(), rs.kid), "algorithm not allowed");
  });

  it("refuses HS256 signed with our RSA public key as the HMAC secret (RFC 8725 §2.1)", async () => {
    await rejected(await hmacWithPublicKey(rs, claims()), "algorithm not allowed");
  });

  it("refuses a token signed by a foreign key that reuses our kid", async () => {
    await rejected(await sign({ ...foreign, kid: rs.kid }, claims()), "signature invalid");
  });

  it("never follows a jku header, nor uses an embedded jwk", async () => {
    const evil = await serveJson(jwksOf(foreign));
    try {
      await rejected(await sign(foreign, claims(), { jku: evil.url }), "unknown key id");
      await rejected(await sign(foreign, claims(), { x5u: evil.url }), "unknown key id");
      await rejected(await sign(foreign, claims(), { jwk: foreign.jwk }), "unknown key id");
      await rejected(await sign({ ...foreign, kid: rs.kid }, claims(), { jku: evil.url, jwk: foreign.jwk }), "signature invalid");
      expect(evil.requests).toBe(0);
    } finally {
      await evil.close();
    }
  });

  it("refuses garbage and oversized tokens", async () => {
    await rejected("abc.def.ghi", "malformed token");
    await rejected("not-a-jwt", "malformed token");
    const big = await sign(rs, claims({ pad: "x".repeat(9000) }));
    await rejected(big, "token too large");
  });

  it("refuses a token without kid, though it has one key for its alg, and one with a bad oid", async () => {
    await rejected(await sign(ed, claims(), { kid: undefined }), "missing kid");
    await rejected(await sign(rs, claims({ oid: 42 })), "malformed token");
  });

  it("refuses a token without the RFC 9068 client_id claim", async () => {
    await rejected(await sign(rs, claims({ client_id: undefined })), "missing client_id claim");
  });

  it("refuses a token lacking the method's scope with PermissionDenied and insufficient_scope", async () => {
    const token = await sign(rs, claims({ scope: "m2m:other", scopes: ["m2m:other"] }));
    const err = await failure(get(token));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain("m2m:clients:read");
    const challenge = err.metadata.get("www-authenticate") ?? "";
    expect(challenge).toMatch(/^Bearer error="insufficient_scope", /);
    expect(challenge).toContain('scope="m2m:clients:read"');
  });

  it("checks each method's own required_scopes option", async () => {
    const readOnly = bearer(await sign(rs));
    const err = await failure(org.createOrganizationClient({ organizationId: "org_42" }, readOnly));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain("m2m:clients:write");
    const writer = bearer(await sign(rs, claims({ scope: "m2m:clients:write" })));
    expect((await org.createOrganizationClient({}, writer)).plainSecret).toBe("m2morg_abc123");
  });

  it.each([
    ["scope string", { scope: "a m2m:clients:read", scopes: undefined }],
    ["scopes array", { scope: undefined, scopes: ["m2m:clients:read"] }],
    ["scp array", { scope: undefined, scopes: undefined, scp: ["m2m:clients:read"] }],
  ])("counts scopes granted by the %s", async (_source, extra) => {
    const res = await get(await sign(rs, claims(extra)));
    expect(res.client?.scopes).toContain("m2m:clients:read");
  });

  it("lets a public method through without a token, and ignores a bad one there", async () => {
    expect((await tokens.issueToken({})).accessToken).toBe("issued");
    expect((await tokens.issueToken({}, bearer("garbage"))).accessToken).toBe("issued");
  });

  it("guards methods that are not public even without required scopes", async () => {
    const err = await failure(tokens.validateToken({}));
    expect(err.code).toBe(Code.Unauthenticated);
  });
});
