import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Context,
  type ContextManager,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// What a host gets once it registers an SDK. Only @opentelemetry/api is a dependency, so this file
// registers the least an SDK does, written against the API's interfaces: a recording tracer, an
// AsyncLocalStorage context manager and the W3C traceparent propagator. The service's code is
// the same as in production, where these are the host's.

interface Recorded {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  status: SpanStatus;
  ended: boolean;
}

const recorded: Recorded[] = [];

function recordingSpan(name: string, options: SpanOptions, parent: SpanContext | undefined): Span {
  const spanContext: SpanContext = { traceId: parent?.traceId ?? randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex"), traceFlags: 1 };
  const record: Recorded = {
    name,
    ...spanContext,
    parentSpanId: parent?.spanId,
    attributes: { ...options.attributes },
    status: { code: SpanStatusCode.UNSET },
    ended: false,
  };
  recorded.push(record);
  const span: Span = {
    spanContext: () => spanContext,
    setAttribute: (key, value) => ((record.attributes[key] = value), span),
    setAttributes: (attributes) => (Object.assign(record.attributes, attributes), span),
    addEvent: () => span,
    addLink: () => span,
    addLinks: () => span,
    setStatus: (status) => ((record.status = status), span),
    updateName: (updated) => ((record.name = updated), span),
    end: () => void (record.ended = true),
    isRecording: () => !record.ended,
    recordException: () => undefined,
  };
  return span;
}

const tracer = {
  startSpan: (name: string, options: SpanOptions = {}, ctx: Context = context.active()) => recordingSpan(name, options, trace.getSpanContext(ctx)),
  startActiveSpan: () => {
    throw new Error("not used by the service");
  },
} as Tracer;
const provider: TracerProvider = { getTracer: () => tracer };

const storage = new AsyncLocalStorage<Context>();
const contextManager: ContextManager = {
  active: () => storage.getStore() ?? ROOT_CONTEXT,
  with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.apply(thisArg, args)),
  bind: (_ctx, target) => target,
  enable: () => contextManager,
  disable: () => contextManager,
};

// W3C Trace Context §3.2: version-traceid-parentid-flags.
const w3c: TextMapPropagator = {
  inject(ctx, carrier, setter) {
    const span = trace.getSpanContext(ctx);
    if (span !== undefined) setter.set(carrier, "traceparent", `00-${span.traceId}-${span.spanId}-0${span.traceFlags}`);
  },
  extract(ctx, carrier, getter) {
    const raw = getter.get(carrier, "traceparent");
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(Array.isArray(raw) ? (raw[0] ?? "") : (raw ?? ""));
    if (match === null) return ctx;
    return trace.setSpanContext(ctx, { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), isRemote: true });
  },
  fields: () => ["traceparent"],
};

const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const callerSpan = "00f067aa0ba902b7";
const traceparent = `00-${callerTrace}-${callerSpan}-01`;

let t: TestServer;
beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(w3c);
  // No record cache: every token request reads the store, so its span has a store child.
  t = await startTestServer({ clientCacheMs: 0 });
});
afterAll(async () => {
  await t.close();
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => void recorded.splice(0));

const childrenOf = (span: Recorded) => recorded.filter((r) => r.parentSpanId === span.spanId);

describe("traces", () => {
  it("continues the caller's trace at /oauth/token, with store and signing as child spans", async () => {
    const res = await fetch(`${t.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", traceparent },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: t.admin.clientId, client_secret: t.admin.clientSecret }),
    });
    expect(res.status).toBe(200);
    const server = recorded.find((r) => r.name === "POST /oauth/token");
    expect(server).toMatchObject({
      traceId: callerTrace,
      parentSpanId: callerSpan,
      ended: true,
      attributes: { "http.route": "/oauth/token", "http.response.status_code": 200 },
    });
    const children = childrenOf(server!);
    expect(children.map((c) => c.name)).toContain("store clients.get");
    expect(children.map((c) => c.name)).toContain("sign");
    expect(children.every((c) => c.traceId === callerTrace && c.ended)).toBe(true);
    expect(children.find((c) => c.name === "sign")?.attributes).toMatchObject({ "m2m_auth.alg": "RS256" });
  });

  it("starts a new trace when the request carries none", async () => {
    await fetch(`${t.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    const server = recorded.find((r) => r.name === "POST /oauth/token");
    expect(server?.parentSpanId).toBeUndefined();
    expect(server?.traceId).not.toBe(callerTrace);
  });

  it("opens a span per RPC, named by the schema, continuing the caller's trace", async () => {
    const tokens = createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    await tokens.issueToken({ clientId: t.admin.clientId, clientSecret: t.admin.clientSecret }, { headers: { traceparent } });
    const rpc = recorded.find((r) => r.name === "m2mauth.v1.TokenService/IssueToken");
    expect(rpc).toMatchObject({
      traceId: callerTrace,
      parentSpanId: callerSpan,
      attributes: { "rpc.system": "connect_rpc", "rpc.service": "m2mauth.v1.TokenService", "rpc.method": "IssueToken" },
      status: { code: SpanStatusCode.UNSET },
    });
    expect(childrenOf(rpc!).map((c) => c.name)).toEqual(expect.arrayContaining(["store clients.get", "sign"]));
  });

  it("opens a span per REST call, named by method and route pattern, with the store calls as children", async () => {
    const token = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const path = "/api/v1/organizations/{organization_id}/clients";
    const res = await fetch(`${t.url}/api/v1/organizations/org_traced/clients`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", traceparent },
      body: JSON.stringify({ name: "traced", audience: ["api.example"] }),
    });
    expect(res.status).toBe(201);
    const rest = recorded.find((r) => r.name === `POST ${path}`);
    expect(rest).toMatchObject({
      traceId: callerTrace,
      parentSpanId: callerSpan,
      ended: true,
      attributes: { "http.route": path, "http.response.status_code": 201 },
    });
    expect(childrenOf(rest!).map((c) => c.name)).toContain("store clients.create");
    // Refused for want of a token: the client's error (4xx), so the span's status stays unset.
    expect((await fetch(`${t.url}/api/v1/organizations/org_traced/clients`)).status).toBe(401);
    expect(recorded.find((r) => r.name === `GET ${path}`)).toMatchObject({
      ended: true,
      attributes: { "http.response.status_code": 401 },
      status: { code: SpanStatusCode.UNSET },
    });
    // A path outside the API's routes gets no span: its name would be whatever a scanner sent.
    await fetch(`${t.url}/api/v2/anything`);
    expect(recorded.filter((r) => r.name.includes("/api/v2") || r.name.endsWith(" other"))).toEqual([]);
  });

  it("marks a refused RPC's span as an error with its Connect code, and no secret in any span", async () => {
    const tokens = createClient(TokenService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    await expect(tokens.issueToken({ clientId: t.admin.clientId, clientSecret: "not-the-secret" })).rejects.toThrow();
    const rpc = recorded.find((r) => r.name === "m2mauth.v1.TokenService/IssueToken");
    expect(rpc?.status).toEqual({ code: SpanStatusCode.ERROR, message: "unauthenticated" });
    expect(rpc?.attributes["rpc.connect_rpc.error_code"]).toBe("unauthenticated");
    expect(JSON.stringify(recorded)).not.toContain("not-the-secret");
  });
});
