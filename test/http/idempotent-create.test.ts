import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { UnavailableError } from "../../src/errors.js";
import type { ClientStore, Store } from "../../src/store/client-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import type { RestBody } from "../support/management-api.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

// Creates that are safe to retry: REST's Idempotency-Key header and the RPC's request_id.

let t: TestServer;
let redis: Store;
let adminToken: string;
// The next `loseAnswers` creates are applied, then answered as if Redis had hung (503).
let loseAnswers = 0;

function losing(clients: ClientStore): ClientStore {
  const wrapped = Object.create(clients) as ClientStore;
  wrapped.createOnce = async (record, request) => {
    const result = await clients.createOnce(record, request);
    if (loseAnswers > 0) {
      loseAnswers--;
      throw new UnavailableError(undefined, { cause: new Error("the answer was lost") });
    }
    return result;
  };
  return wrapped;
}

beforeAll(async () => {
  redis = createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() });
  t = await startTestServer({ store: { ...redis, clients: losing(redis.clients), ping: () => redis.ping(), close: () => redis.close() } });
  adminToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
});
afterAll(async () => {
  await t.close();
  await redis.close();
});

async function post(org: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}/api/v1/organizations/${org}/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as RestBody };
}

const total = async (org: string) => (await redis.clients.list(org, { limit: 100 })).total;

describe("idempotent creates", () => {
  it("REST: a retry with the same Idempotency-Key after a 503 gets the client that was made, secret included; one client exists", async () => {
    const org = `org_${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    loseAnswers = 1;
    const lost = await post(org, seedClient, { "idempotency-key": `"${key}"` });
    expect(lost.status).toBe(503);
    expect(lost.headers.get("retry-after")).toBe("1");
    expect(await total(org)).toBe(1); // applied all the same

    const retry = await post(org, seedClient, { "idempotency-key": key }); // bare, as most clients send it
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.headers.get("cache-control")).toBe("no-store");
    expect(await getToken(t.url, retry.json.client.client_id, retry.json.plain_secret)).toMatch(/^ey/);
    const again = await post(org, seedClient, { "idempotency-key": `"${key}"` });
    expect(again.json).toEqual(retry.json);
    expect(await total(org)).toBe(1);

    const fresh = await post(org, seedClient, { "idempotency-key": randomUUID() });
    expect([fresh.status, fresh.headers.get("idempotent-replayed")]).toEqual([201, null]);
    expect(await total(org)).toBe(2);
  });

  it("REST: the same key with another body is 422; a malformed or empty key is 400", async () => {
    const org = `org_${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    expect((await post(org, seedClient, { "idempotency-key": key })).status).toBe(201);
    const reused = await post(org, { ...seedClient, name: "another" }, { "idempotency-key": key });
    expect(reused.status).toBe(422);
    expect(reused.json).toEqual({
      code: "invalid_argument",
      message: expect.stringMatching(/^request_id: was first used with a different request \(REST: the Idempotency-Key header\)/) as unknown,
    });
    expect(reused.headers.get("m2m-error-reason")).toBe("REQUEST_ID_REUSED");
    const malformed = await post(org, seedClient, { "idempotency-key": "not a key" });
    expect([malformed.status, malformed.json.code]).toEqual([400, "invalid_argument"]);
    expect(malformed.json.message).toMatch(/^request_id: \(REST: the Idempotency-Key header\) must be 1 to 128 characters/);
    expect((await post(org, seedClient, { "idempotency-key": '""' })).json.message).toBe("Idempotency-Key: is empty");
    expect(await total(org)).toBe(1);
  });

  it("RPC: request_id replays over Connect and gRPC alike, and a reused one is INVALID_ARGUMENT", async () => {
    const org = `org_${randomUUID().slice(0, 8)}`;
    const auth = { authorization: `Bearer ${adminToken}` };
    const connect = createClient(OrganizationClientService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    const grpc = createClient(OrganizationClientService, createGrpcTransport({ baseUrl: t.url }));
    const request = { organizationId: org, requestId: randomUUID(), client: { name: "rpc", scopes: ["read"], audience: ["api"] } };
    let replayed: string | null = null;
    const first = await connect.createOrganizationClient(request, { headers: auth });
    const second = await grpc.createOrganizationClient(request, { headers: auth, onHeader: (h) => void (replayed = h.get("idempotent-replayed")) });
    expect(replayed).toBe("true");
    expect(second.client?.clientId).toBe(first.client?.clientId);
    expect(second.plainSecret).toBe(first.plainSecret);
    const err = ConnectError.from(
      await connect.createOrganizationClient({ ...request, client: { ...request.client, name: "other" } }, { headers: auth }).catch((e: unknown) => e),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.metadata.get("m2m-error-reason")).toBe("REQUEST_ID_REUSED");
    expect(await total(org)).toBe(1);
  });
});
