import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { createMetrics } from "../../src/telemetry/metrics.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { faultyStore } from "../support/faulty-store.js";
import { managementApi, type RegisteredClient } from "../support/management-api.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { scrape, valueOf, type Sample } from "../support/prometheus-text.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// GET /metrics after real traffic over HTTP and RPC: each counter moved by the right labels, the
// durations observed under route patterns, and no label carrying a secret, a token or a client id.

const org = "org_metrics";
let t: TestServer;
let client: RegisteredClient;
let adminToken: string;
let issuedToken: string;
let samples: Sample[];
let text: string;

async function tokenRequest(url: string, form: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  t = await startTestServer();
  adminToken = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  client = await managementApi(t.url, adminToken).register(org);
  issuedToken = await getToken(t.url, client.id, client.secret);
  const { id, secret } = client;
  expect(await tokenRequest(t.url, { grant_type: "client_credentials", client_id: id, client_secret: `${secret}x` })).toBe(401);
  expect(await tokenRequest(t.url, { grant_type: "client_credentials", client_id: id, client_secret: secret, scope: "nope:nothing" })).toBe(400);
  expect(await tokenRequest(t.url, { grant_type: "password", client_id: id, client_secret: secret })).toBe(400);
  expect(await tokenRequest(t.url, { grant_type: "client_credentials" })).toBe(401);
  const tokens = createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
  await tokens.issueToken({ clientId: id, clientSecret: secret });
  await expect(tokens.issueToken({ clientId: id, clientSecret: "wrong-secret" })).rejects.toThrow();
  await (await fetch(`${t.url}/.well-known/jwks.json`)).arrayBuffer();
  await (await fetch(`${t.url}/api/v1/organizations/${org}/clients/${id}`, { headers: { authorization: `Bearer ${adminToken}` } })).arrayBuffer();
  await (await fetch(`${t.url}/no/such/${id}`)).arrayBuffer();
  ({ samples, text } = await scrape(t.url));
});

afterAll(() => t.close());

describe("GET /metrics", () => {
  it("counts tokens issued by grant and algorithm, at the endpoint and over RPC", () => {
    // The admin's, the client's, and one by IssueToken.
    expect(valueOf(samples, "m2m_auth_tokens_issued_total", { grant: "client_credentials", alg: "RS256" })).toBe(3);
  });

  it("counts refusals by grant and OAuth error code", () => {
    const refused = (labels: Record<string, string>) => valueOf(samples, "m2m_auth_tokens_refused_total", labels);
    // A wrong secret at the endpoint, and over RPC; and a request with no credentials at all.
    expect(refused({ grant: "client_credentials", reason: "invalid_client" })).toBe(3);
    expect(refused({ grant: "client_credentials", reason: "invalid_scope" })).toBe(1);
    expect(refused({ grant: "other", reason: "unsupported_grant_type" })).toBe(1);
  });

  it("times HTTP requests by route pattern, never the raw path", () => {
    const count = (labels: Record<string, string>) => valueOf(samples, "m2m_auth_http_request_duration_seconds_count", labels);
    expect(count({ route: "/oauth/token", method: "POST", status_class: "2xx" })).toBe(2);
    expect(count({ route: "/oauth/token", method: "POST", status_class: "4xx" })).toBe(4);
    expect(count({ route: "/api/v1/organizations/{organization_id}/clients", method: "POST", status_class: "2xx" })).toBe(1);
    expect(count({ route: "/api/v1/organizations/{organization_id}/clients/{client_id}", method: "GET", status_class: "2xx" })).toBe(1);
    expect(count({ route: "other", method: "GET", status_class: "4xx" })).toBe(1);
    expect(valueOf(samples, "m2m_auth_http_request_duration_seconds_sum", { route: "/oauth/token" })).toBeGreaterThan(0);
    expect(valueOf(samples, "m2m_auth_jwks_requests_total")).toBe(1);
  });

  it("times RPCs by schema names and Connect code", () => {
    const count = (labels: Record<string, string>) => valueOf(samples, "m2m_auth_rpc_duration_seconds_count", labels);
    expect(count({ service: "m2mauth.v1.TokenService", method: "IssueToken", code: "ok" })).toBe(1);
    expect(count({ service: "m2mauth.v1.TokenService", method: "IssueToken", code: "unauthenticated" })).toBe(1);
    // REST's calls go through the in-process transport: they are HTTP requests, not RPCs.
    expect(count({ method: "CreateClient" })).toBe(0);
  });

  it("times store calls by operation", () => {
    expect(valueOf(samples, "m2m_auth_store_operation_duration_seconds_count", { operation: "clients.create" })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, "m2m_auth_store_operation_duration_seconds_count", { operation: "clients.get" })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, "m2m_auth_store_errors_total")).toBe(0);
  });

  it("reports the current signing key's age and the ring's keys by status", () => {
    const age = samples.find((s) => s.name === "m2m_auth_signing_key_age_seconds");
    expect(age?.labels).toEqual({ alg: "RS256" });
    expect(age?.value).toBeGreaterThanOrEqual(0);
    expect(valueOf(samples, "m2m_auth_signing_keys", { status: "current" })).toBe(1);
  });

  it("carries no secret, token or client id", () => {
    for (const secret of [client.secret, t.admin.clientSecret, issuedToken, adminToken]) expect(text).not.toContain(secret);
    expect(text).not.toContain(client.id);
    expect(text).not.toContain(t.admin.clientId);
    expect(text).not.toContain(org);
  });

  it("answers only GET and HEAD", async () => {
    const res = await fetch(`${t.url}/metrics`, { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("METRICS_CLIENT_LABELS", () => {
  it("labels the token counters with the client id when asked, and only then", async () => {
    const labelled = await startTestServer({ metrics: { metrics: createMetrics({ clientLabels: true }) } });
    try {
      const admin = await getToken(labelled.url, labelled.admin.clientId, labelled.admin.clientSecret);
      await tokenRequest(labelled.url, { grant_type: "client_credentials", client_id: labelled.admin.clientId, client_secret: "wrong" });
      const { samples: labelledSamples, text: labelledText } = await scrape(labelled.url);
      const id = labelled.admin.clientId;
      expect(valueOf(labelledSamples, "m2m_auth_tokens_issued_total", { client_id: id })).toBe(1);
      expect(valueOf(labelledSamples, "m2m_auth_tokens_refused_total", { client_id: id, reason: "invalid_client" })).toBe(1);
      expect(labelledText).not.toContain(admin);
      expect(labelledText).not.toContain(labelled.admin.clientSecret);
    } finally {
      await labelled.close();
    }
  });
});

describe("store failures", () => {
  it("counts a failing store call by operation, and the refusal it caused", async () => {
    const faulty = faultyStore(createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() }), ["clients.get"]);
    const broken = await startTestServer({ store: faulty.store, clientCacheMs: 0 });
    try {
      faulty.fault = new Error("store exploded");
      const status = await tokenRequest(broken.url, { grant_type: "client_credentials", client_id: "some-client", client_secret: "some-secret" });
      expect(status).toBeGreaterThanOrEqual(500);
      faulty.fault = undefined;
      const { samples: after } = await scrape(broken.url);
      expect(valueOf(after, "m2m_auth_store_errors_total", { operation: "clients.get" })).toBe(1);
      expect(valueOf(after, "m2m_auth_store_operation_duration_seconds_count", { operation: "clients.get" })).toBeGreaterThanOrEqual(1);
      expect(valueOf(after, "m2m_auth_tokens_refused_total", { grant: "client_credentials", reason: "server_error" })).toBe(1);
    } finally {
      await broken.close();
      await faulty.store.close();
    }
  });
});
