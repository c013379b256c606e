import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, bearer, claims, clients, failure, ISSUER, jwksOf, makeKey, serveJson, sign, startServer, transports, type TestKey } from "./fixtures.js";

let rs: TestKey;
let es: TestKey;
let foreign: TestKey;

beforeAll(async () => {
  [rs, es, foreign] = await Promise.all([makeKey("RS256", "rs-1"), makeKey("ES256", "es-1"), makeKey("RS256", "foreign-1")]);
});

describe.each(transports)("auth interceptor options over %s", (_name, makeTransport) => {
  it("lets requiredScopes override a method's option", async () => {
    const server = await startServer({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: jwksOf(rs),
      requiredScopes: { "/m2mauth.v1.OrganizationClientService/GetOrganizationClient": ["custom:read"] },
    });
    try {
      const { org } = clients(makeTransport(server.baseUrl));
      const err = await failure(org.getOrganizationClient({}, bearer(await sign(rs))));
      expect(err.code).toBe(Code.PermissionDenied);
      expect(err.rawMessage).toContain("custom:read");
      const res = await org.getOrganizationClient({}, bearer(await sign(rs, claims({ scope: "custom:read" }))));
      expect(res.client?.scopes).toEqual(["custom:read", "m2m:clients:read"]);
    } finally {
      await server.close();
    }
  });

  it("fails closed with Unavailable when the key source throws", async () => {
    const server = await startServer({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: () => {
        throw new Error("key ring down");
      },
    });
    try {
      const { org } = clients(makeTransport(server.baseUrl));
      const err = await failure(org.getOrganizationClient({}, bearer(await sign(rs))));
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).not.toContain("key ring down");
    } finally {
      await server.close();
    }
  });

  it("verifies against a remote jwksUri, fetched once", async () => {
    const jwks = await serveJson(jwksOf(es, rs));
    const server = await startServer({ issuer: ISSUER, audience: AUDIENCE, keys: { jwksUri: jwks.url } });
    try {
      const { org } = clients(makeTransport(server.baseUrl));
      expect((await org.getOrganizationClient({}, bearer(await sign(es)))).client?.clientId).toBe("m2morg_abc123");
      expect((await org.getOrganizationClient({}, bearer(await sign(rs)))).client?.clientId).toBe("m2morg_abc123");
      expect(jwks.requests).toBe(1);
      const err = await failure(org.getOrganizationClient({}, bearer(await sign({ ...foreign, kid: es.kid, alg: "RS256" }))));
      expect(err.code).toBe(Code.Unauthenticated);
    } finally {
      await server.close();
      await jwks.close();
    }
  });

  it("fails closed with Unavailable when the remote JWKS is unreachable", async () => {
    const jwks = await serveJson(jwksOf(rs));
    const url = jwks.url;
    await jwks.close();
    const server = await startServer({ issuer: ISSUER, audience: AUDIENCE, keys: { jwksUri: url } });
    try {
      const { org } = clients(makeTransport(server.baseUrl));
      const err = await failure(org.getOrganizationClient({}, bearer(await sign(rs))));
      expect(err.code).toBe(Code.Unavailable);
    } finally {
      await server.close();
    }
  });
});
