import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { UnavailableError } from "../../src/errors.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { faultyStore } from "../support/faulty-store.js";
import { captureLog, type CapturedLog } from "../support/log-capture.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// Every 5xx, on every route, is logged once, with its cause: the operator's only way to learn
// why, since the caller is told nothing. A fault is injected into a real Redis store's calls.

const org = "org_faultlog";
let log: CapturedLog;
let t: TestServer;
let adminToken: string;

const redis = createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() });
const faulty = faultyStore(redis, ["clients.list", "clients.get", "ping"]);

beforeAll(async () => {
  log = captureLog();
  t = await startTestServer({ store: faulty.store, logger: log.logger });
  adminToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
});
afterAll(async () => {
  await t.close();
  await redis.close();
});
beforeEach(() => {
  faulty.fault = undefined;
  log.lines.length = 0;
});

// The lines that name the cause, once the answer is in (the HTTP line is written at 'finish').
async function linesWith(text: string): Promise<CapturedLog["lines"]> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return log.lines.filter((line) => JSON.stringify(line).includes(text));
}

describe("a server fault", () => {
  it("behind a REST route is logged once, with its cause, on the REST answer's line", async () => {
    faulty.fault = new TypeError("clients.list exploded (rest)");
    const res = await fetch(`${t.url}/api/v1/organizations/${org}/clients`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect([res.status, await res.json()]).toEqual([500, { code: "internal", message: "internal error" }]);
    const lines = await linesWith("clients.list exploded (rest)");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: "http", method: "GET", path: `/api/v1/organizations/${org}/clients`, status: 500 });
    // The REST call went through the RPC path in process: it is not logged a second time.
    expect(log.lines.filter((line) => line.level >= 50)).toHaveLength(1);
    expect(log.lines.filter((line) => line.msg === "rpc")).toHaveLength(0);
  });

  it("of the store (unavailable) behind a REST route is logged once, with its cause", async () => {
    faulty.fault = new UnavailableError(undefined, { cause: new Error("connect ECONNREFUSED (rest)") });
    const res = await fetch(`${t.url}/api/v1/organizations/${org}/clients`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([503, "unavailable"]);
    const lines = await linesWith("ECONNREFUSED (rest)");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: "http", status: 503 });
  });

  it("over RPC is logged once, with its cause, for internal and unavailable alike", async () => {
    const clients = createClient(OrganizationClientService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const call = () => clients.listOrganizationClients({ organizationId: org }, { headers: { authorization: `Bearer ${adminToken}` } });
    faulty.fault = new TypeError("clients.list exploded (rpc)");
    expect(await call().catch((err: unknown) => ConnectError.from(err).code)).toBe(Code.Internal);
    faulty.fault = new UnavailableError(undefined, { cause: new Error("connect ECONNREFUSED (rpc)") });
    expect(await call().catch((err: unknown) => ConnectError.from(err).code)).toBe(Code.Unavailable);
    const internal = await linesWith("clients.list exploded (rpc)");
    const unavailable = await linesWith("ECONNREFUSED (rpc)");
    expect([internal.length, unavailable.length]).toEqual([1, 1]);
    expect(internal[0]).toMatchObject({ level: 50, msg: "rpc", code: "Internal" });
    expect(unavailable[0]).toMatchObject({ level: 50, msg: "rpc", code: "Unavailable" });
  });

  it("on the token endpoint is logged once, with its cause", async () => {
    faulty.fault = new TypeError("clients.get exploded (token)");
    const res = await fetch(`${t.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: "m2morg_faultlog", client_secret: "m2msk_not-a-real-secret" }),
    });
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([500, "server_error"]);
    const lines = await linesWith("clients.get exploded (token)");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: "http", route: "/oauth/token", status: 500 });
  });

  it("on a discovery route (health) is logged once, with its cause", async () => {
    faulty.fault = new Error("ping exploded (health)");
    expect((await fetch(`${t.url}/healthz`)).status).toBe(503);
    const lines = await linesWith("ping exploded (health)");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, msg: "http", path: "/healthz", status: 503 });
  });
});
