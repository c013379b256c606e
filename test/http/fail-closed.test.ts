import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import type { RestBody } from "../support/management-api.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

// With Redis gone the service refuses with retryable errors, issues nothing, and recovers.

let proxy: TcpProxy;
let t: TestServer;
let client: { id: string; secret: string };
let adminToken: string;

beforeAll(async () => {
  const redis = new URL(testRedisUrl());
  proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
  const store = createRedisStore({ url: proxy.url, keyPrefix: uniquePrefix() });
  t = await startTestServer({ store });
  adminToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  const res = await fetch(`${t.url}/api/v1/organizations/org_down/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(seedClient),
  });
  const json = (await res.json()) as RestBody;
  client = { id: json.client.client_id, secret: json.plain_secret };
});
afterAll(async () => {
  await t.close();
  await t.store.close();
  await proxy.down().catch(() => undefined);
});

describe("when Redis is down", () => {
  it("refuses token requests, management calls and health with retryable errors, then recovers", async () => {
    await getToken(t.url, client.id, client.secret);
    await proxy.down();
    // The token path may answer from a copy of the record for up to M2M_CLIENT_CACHE_MS (500 ms
    // here) after its last read; past that, nothing is issued without Redis.
    await new Promise((r) => setTimeout(r, 600));

    const res = await fetch(`${t.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: client.id, client_secret: client.secret }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = (await res.json()) as { error: string };
    expect(body.error).toBe("temporarily_unavailable");
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|stack|redis/i);

    const list = await fetch(`${t.url}/api/v1/organizations/org_down/clients`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(list.status).toBe(503);
    expect(((await list.json()) as RestBody).code).toBe("unavailable");

    // The registry fails closed too: no client is registered unchecked, no API listed from nowhere.
    for (const [path, body] of [
      ["resource-servers", undefined],
      ["organizations/org_down/clients", seedClient],
    ] as const) {
      const answer = await fetch(`${t.url}/api/v1/${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect([path, answer.status]).toEqual([path, 503]);
    }

    const rpc = createClient(TokenService, createGrpcTransport({ baseUrl: t.url }));
    const err = await rpc.issueToken({ clientId: client.id, clientSecret: client.secret }).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unavailable);

    expect((await fetch(`${t.url}/healthz`)).status).toBe(503);
    const ready = await fetch(`${t.url}/readyz`);
    expect([ready.status, ((await ready.json()) as { reasons: string[] }).reasons]).toEqual([503, ["store: unreachable"]]);

    await proxy.up();
    let token: string | undefined;
    for (let i = 0; i < 50 && token === undefined; i++) {
      token = await getToken(t.url, client.id, client.secret).catch(() => undefined);
      if (token === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(token).toEqual(expect.any(String));
  });
});
