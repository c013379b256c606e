import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AuthRejectedInfo, AuthVerifiedInfo } from "../../src/interceptor/index.js";
import {
  AUDIENCE,
  bearer,
  claims,
  clients,
  failure,
  GET,
  ISSUE,
  ISSUER,
  jwksOf,
  makeKey,
  now,
  sign,
  startServer,
  transports,
  type TestKey,
  type TestServer,
} from "./fixtures.js";

// onVerified and onRejected through a real transport: what a service counts with its own
// metrics. A hook that throws, or rejects, changes nothing for the call.

let key: TestKey;
beforeAll(async () => {
  key = await makeKey("ES256", "es-hooks");
});

describe.each(transports)("auth interceptor hooks over %s", (_name, makeTransport) => {
  const verified: AuthVerifiedInfo[] = [];
  const rejected: AuthRejectedInfo[] = [];
  let server: TestServer;
  let broken: TestServer;

  beforeAll(async () => {
    const common = { issuer: ISSUER, audience: AUDIENCE, keys: jwksOf(key), publicMethods: [ISSUE] };
    server = await startServer({ ...common, onVerified: (info) => void verified.push(info), onRejected: (info) => void rejected.push(info) });
    broken = await startServer({
      ...common,
      onVerified: () => {
        throw new Error("a hook's bug");
      },
      onRejected: () => Promise.reject(new Error("an async hook's bug")) as unknown as void,
    });
  });
  afterAll(async () => {
    await server.close();
    await broken.close();
  });
  beforeEach(() => {
    verified.splice(0);
    rejected.splice(0);
  });

  const get = (base: TestServer, options?: { headers: Record<string, string> }) =>
    clients(makeTransport(base.baseUrl)).org.getOrganizationClient({ organizationId: "org_42" }, options);

  it("tells onVerified of an admitted call, with its claims and procedure", async () => {
    await get(server, bearer(await sign(key, claims({ sub: "m2morg_hooked" }))));
    expect(verified).toHaveLength(1);
    expect(verified[0]?.method).toBe(GET);
    expect(verified[0]?.claims.sub).toBe("m2morg_hooked");
    expect(rejected).toEqual([]);
  });

  it("tells neither hook of a public method", async () => {
    await clients(makeTransport(server.baseUrl)).tokens.issueToken({});
    expect([...verified, ...rejected]).toEqual([]);
  });

  type Options = () => Promise<{ headers: Record<string, string> } | undefined>;
  it.each<[string, Options]>([
    ["missing_token", async () => undefined],
    ["malformed_header", async () => ({ headers: { authorization: "Bearer two words" } })],
    ["invalid_token", async () => bearer(`${await sign(key)}x`)],
    ["expired", async () => bearer(await sign(key, claims({ iat: now() - 600, nbf: now() - 600, exp: now() - 300 })))],
    ["insufficient_scope", async () => bearer(await sign(key, claims({ scope: "m2m:other", scopes: ["m2m:other"] })))],
  ])("tells onRejected the reason %s, with the error the caller gets", async (reason, options) => {
    const err = await failure(get(server, await options()));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ reason, method: GET });
    expect(rejected[0]?.error.code).toBe(err.code);
    expect(verified).toEqual([]);
  });

  it("answers as if there were no hooks when they throw or reject", async () => {
    const ok = await get(broken, bearer(await sign(key)));
    expect(ok.client?.clientId).toBe("m2morg_abc123");
    expect((await failure(get(broken))).code).toBe(Code.Unauthenticated);
  });
});
