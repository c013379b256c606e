import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { M2MError, m2mErrorCodes, ResourceExhaustedError, UnavailableError } from "../../src/errors.js";
import { toOAuthError, toRestError, type OAuthErrorCode, type RestCode } from "../../src/http/http-errors.js";
import { connectCodeOf, isServerFault } from "../../src/rpc/connect-errors.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { faultyStore } from "../support/faulty-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// The HTTP edges' tables, each code over a real request: the token endpoint meets the token
// service's codes and the store's; REST meets what the RPC edge answers. What an edge cannot
// meet is a bug there, answered as one (500, its detail hidden).

const oauthStatuses: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  temporarily_unavailable: 503,
  resource_exhausted: 429,
  server_error: 500,
};

// RFC 6749 has no value for a throttled client: it is told temporarily_unavailable (with 429).
const oauthErrors: Record<OAuthErrorCode, string> = {
  ...(Object.fromEntries(Object.keys(oauthStatuses).map((c) => [c, c])) as Record<OAuthErrorCode, string>),
  resource_exhausted: "temporarily_unavailable",
};

const restAnswers: Record<RestCode, [number, string]> = {
  [Code.InvalidArgument]: [400, "invalid_argument"],
  [Code.Unauthenticated]: [401, "unauthenticated"],
  [Code.PermissionDenied]: [403, "permission_denied"],
  [Code.NotFound]: [404, "not_found"],
  [Code.FailedPrecondition]: [400, "failed_precondition"],
  [Code.ResourceExhausted]: [429, "resource_exhausted"],
  [Code.Unavailable]: [503, "unavailable"],
  [Code.Internal]: [500, "internal"],
};

const redis = createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() });
const faulty = faultyStore(redis, ["clients.get", "clients.list"]);
// Two failed authentications from one address, and the third is throttled (see test/tokens/auth-throttle.test.ts).
const throttledId = "m2morg_throttled";
let t: TestServer;
let admin: string;
let orgAdmin: string;
let client: { id: string; secret: string };

async function rest(
  method: string,
  path: string,
  options: { token?: string; body?: string } = {},
): Promise<{ status: number; headers: Headers; code: string }> {
  const res = await fetch(`${t.url}/api/v1/organizations/${path}`, {
    method,
    headers: { ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }), "content-type": "application/json" },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return { status: res.status, headers: res.headers, code: ((await res.json()) as { code: string }).code };
}

async function oauth(params: Record<string, string>): Promise<{ status: number; headers: Headers; error: string }> {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
  });
  return { status: res.status, headers: res.headers, error: ((await res.json()) as { error: string }).error };
}

beforeAll(async () => {
  t = await startTestServer({ store: faulty.store, authFailures: { windowSeconds: 60, perClientAddress: 2, perClient: 3, perAddress: 0 } });
  admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  const registered = await fetch(`${t.url}/api/v1/organizations/org_tables/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({
      ...seedClient,
      scopes: [...seedClient.scopes, "m2m:clients:read", "m2m:clients:write"],
      audience: [...seedClient.audience, t.issuer],
    }),
  });
  const json = (await registered.json()) as { client: { client_id: string }; plain_secret: string };
  client = { id: json.client.client_id, secret: json.plain_secret };
  orgAdmin = await getToken(t.url, client.id, client.secret, { audience: t.issuer });
});
afterAll(async () => {
  await t.close();
  await redis.close();
});
beforeEach(() => {
  faulty.fault = undefined;
});

describe("the token endpoint's error table (RFC 6749 §5.2)", () => {
  it("answers each code it can meet with its status", async () => {
    const grant = { grant_type: "client_credentials", client_id: client.id, client_secret: client.secret };
    const answers: Record<OAuthErrorCode, () => Promise<{ status: number; headers: Headers; error: string }>> = {
      invalid_request: () => oauth({ client_id: client.id, client_secret: client.secret }),
      invalid_client: () => oauth({ ...grant, client_secret: "m2msk_wrong" }),
      unsupported_grant_type: () => oauth({ ...grant, grant_type: "password" }),
      invalid_scope: () => oauth({ ...grant, scope: "not:granted" }),
      invalid_target: () => oauth({ ...grant, audience: "https://not-granted.example" }),
      temporarily_unavailable: async () => {
        faulty.fault = new UnavailableError();
        return oauth({ ...grant, client_id: "m2morg_notcachedyet" });
      },
      resource_exhausted: async () => {
        for (let i = 0; i < 2; i++) expect((await oauth({ ...grant, client_id: throttledId })).status).toBe(401);
        return oauth({ ...grant, client_id: throttledId });
      },
      server_error: async () => {
        faulty.fault = new TypeError("a bug");
        return oauth({ ...grant, client_id: "m2morg_notcachedyettoo" });
      },
    };
    for (const [code, answer] of Object.entries(answers) as [OAuthErrorCode, () => Promise<{ status: number; headers: Headers; error: string }>][]) {
      faulty.fault = undefined;
      const res = await answer();
      expect([code, res.status, res.error]).toEqual([code, oauthStatuses[code], oauthErrors[code]]);
      expect(res.headers.get("cache-control")).toBe("no-store");
      if (code === "resource_exhausted") expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(50);
      else expect(res.headers.get("retry-after")).toBe(code === "temporarily_unavailable" ? "1" : null);
    }
  });

  it("maps every domain code: its own with their status, any other as the bug it is", () => {
    for (const code of m2mErrorCodes) {
      const { status, body } = toOAuthError(new M2MError(code, `the ${code} message`));
      if (Object.hasOwn(oauthStatuses, code)) {
        const error = oauthErrors[code as OAuthErrorCode];
        expect([code, status, body]).toEqual([code, oauthStatuses[code as OAuthErrorCode], { error, error_description: `the ${code} message` }]);
      } else {
        // not_found, permission_denied, failed_precondition, invalid_argument: never thrown on the token path.
        expect([code, status, body]).toEqual([code, 500, { error: "server_error", error_description: "internal error" }]);
      }
    }
    expect(toOAuthError(new TypeError("a bug")).body).toEqual({ error: "server_error", error_description: "internal error" });
  });
});

describe("the REST error table", () => {
  it("answers each code it can meet with its status and name", async () => {
    const answers: Record<RestCode, () => Promise<{ status: number; headers: Headers; code: string }>> = {
      [Code.InvalidArgument]: () => rest("POST", "org_tables/clients", { token: admin, body: "{not json" }),
      [Code.Unauthenticated]: () => rest("GET", "org_tables/clients"),
      [Code.PermissionDenied]: () => rest("GET", "org_other/clients", { token: orgAdmin }),
      [Code.NotFound]: () => rest("GET", "org_tables/clients/m2morg_nosuchclient", { token: admin }),
      // failed_precondition is 400, as Connect and AIP-193 answer it (never 412).
      [Code.FailedPrecondition]: async () => {
        const secrets = await fetch(`${t.url}/api/v1/organizations/org_tables/clients/${client.id}`, { headers: { authorization: `Bearer ${admin}` } });
        const only = ((await secrets.json()) as { client: { secrets: { id: string }[] } }).client.secrets[0]!.id;
        return rest("DELETE", `org_tables/clients/${client.id}/secrets/${only}`, { token: admin });
      },
      // No REST route throttles today; the table still answers it as RPC does, with the wait.
      [Code.ResourceExhausted]: async () => {
        const { status, headers, body } = toRestError(new ResourceExhaustedError("slow down", 7));
        expect(headers["retry-after"]).toBe("7");
        return { status, headers: new Headers({ "retry-after": "1" }), code: body.code };
      },
      [Code.Unavailable]: async () => {
        faulty.fault = new UnavailableError();
        return rest("GET", "org_tables/clients", { token: admin });
      },
      [Code.Internal]: async () => {
        faulty.fault = new TypeError("a bug");
        return rest("GET", "org_tables/clients", { token: admin });
      },
    };
    for (const [key, answer] of Object.entries(answers)) {
      faulty.fault = undefined;
      const code = Number(key) as RestCode;
      const res = await answer();
      expect([Code[code], res.status, res.code]).toEqual([Code[code], ...restAnswers[code]]);
      expect(res.headers.get("retry-after")).toBe(code === Code.Unavailable || code === Code.ResourceExhausted ? "1" : null);
    }
  });

  it("can answer whatever the RPC edge answers, and any other code as the bug it is", () => {
    for (const code of m2mErrorCodes) {
      const { status, body } = toRestError(new M2MError(code, "m"));
      expect([code, status, body.code]).toEqual([code, ...restAnswers[connectCodeOf(code) as RestCode]]);
    }
    for (const code of Object.values(Code).filter((value): value is Code => typeof value === "number")) {
      const { status, body, cause } = toRestError(new ConnectError("detail", code));
      if (Object.hasOwn(restAnswers, code)) {
        expect([Code[code], status, body.code]).toEqual([Code[code], ...restAnswers[code as RestCode]]);
        // A 5xx is exactly a server fault, whose cause the log keeps.
        expect([Code[code], status >= 500]).toEqual([Code[code], isServerFault(code)]);
      } else {
        expect([Code[code], status, body]).toEqual([Code[code], 500, { code: "internal", message: "internal error" }]);
        expect((cause as ConnectError).code).toBe(code);
      }
    }
  });
});
