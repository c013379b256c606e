// createClientCredentialsInterceptor end to end: a client registered over REST on a real token
// service calls a real connect-node server guarded by createAuthInterceptor, with no auth code of
// its own; then the retry-once rule and error mapping against in-memory servers.
import { createServer as createHttpServer } from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type ConnectRouter,
  type Interceptor,
  type StreamRequest,
  type Transport,
  type UnaryRequest,
} from "@connectrpc/connect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import {
  createAuthInterceptor,
  createClientCredentialsInterceptor,
  createTokenSource,
  getAuthClaims,
  TokenRequestError,
  type TokenSource,
} from "../../src/interceptor/index.js";
import { refusedBeforeHandlerHeader } from "../../src/interceptor/auth-interceptor.js";
import type { JSONWebKeySet } from "jose";
import { claims, makeKey, sign } from "./fixtures.js";
import { getToken, seedClient, startTestServer, type TestServer } from "../support/server.js";

const ORG = "org_cc_interceptor";
const AUDIENCE = "https://orders.acmecorp.test";

function routes(router: ConnectRouter): void {
  router.service(OrganizationClientService, {
    getOrganizationClient(_req, ctx) {
      const c = getAuthClaims(ctx);
      const env = typeof c["environment"] === "string" ? c["environment"] : "";
      return { client: { clientId: c.sub, organizationId: String(c["oid"]), scopes: c.scopes, customClaims: [{ key: "environment", value: env }] } };
    },
    createOrganizationClient: () => ({}),
    listOrganizationClients: () => ({}),
    deleteOrganizationClient: () => ({}),
  });
}

async function listen(server: http2.Http2Server | ReturnType<typeof createHttpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe("against a real token service and a guarded connect-node server", () => {
  let t: TestServer;
  let api: http2.Http2Server;
  let apiUrl: string;
  let client: { clientId: string; clientSecret: string };
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    t = await startTestServer();
    const admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const res = await fetch(`${t.url}/api/v1/organizations/${ORG}/clients`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ ...seedClient, scopes: ["m2m:clients:read"], audience: [AUDIENCE] }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { client: { client_id: string }; plain_secret: string };
    client = { clientId: body.client.client_id, clientSecret: body.plain_secret };
    const guard = createAuthInterceptor({ issuer: t.issuer, audience: AUDIENCE, keys: { jwksUri: `${t.url}/.well-known/jwks.json` } });
    api = http2.createServer(connectNodeAdapter({ routes, interceptors: [guard] }));
    api.on("session", (s) => (sessions.add(s), s.on("close", () => sessions.delete(s))));
    apiUrl = await listen(api);
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => api.close(r));
    await t.close();
  });

  const countingFetch = (): { requests: number; fetch: typeof fetch } => {
    const counter: { requests: number; fetch: typeof fetch } = {
      requests: 0,
      fetch: (input, init) => (counter.requests++, fetch(input, init)),
    };
    return counter;
  };

  const transports: Array<[string, (interceptors: Interceptor[]) => Transport]> = [
    ["grpc", (interceptors) => createGrpcTransport({ baseUrl: apiUrl, interceptors })],
    ["connect", (interceptors) => createConnectTransport({ baseUrl: apiUrl, httpVersion: "2", interceptors })],
  ];

  it.each(transports)("calls succeed over %s and the handler sees the client's claims; one token serves them all", async (_name, transport) => {
    const counter = countingFetch();
    const interceptor = createClientCredentialsInterceptor({ tokenUrl: `${t.url}/oauth/token`, ...client, fetch: counter.fetch });
    const org = createClient(OrganizationClientService, transport([interceptor]));
    const results = await Promise.all(Array.from({ length: 5 }, () => org.getOrganizationClient({ organizationId: ORG })));
    results.push(await org.getOrganizationClient({ organizationId: ORG }));
    for (const res of results) {
      expect(res.client?.clientId).toBe(client.clientId);
      expect(res.client?.organizationId).toBe(ORG);
      expect(res.client?.scopes).toEqual(["m2m:clients:read"]);
      expect(res.client?.customClaims).toEqual([expect.objectContaining({ key: "environment", value: "production_us" })]);
    }
    expect(counter.requests).toBe(1);
  });

  it("works with client_secret_post and with audience and scope asked for", async () => {
    const interceptor = createClientCredentialsInterceptor({
      tokenUrl: `${t.url}/oauth/token`,
      ...client,
      authMethod: "client_secret_post",
      scope: ["m2m:clients:read"],
      audience: AUDIENCE,
    });
    const org = createClient(OrganizationClientService, transports[0]![1]([interceptor]));
    expect((await org.getOrganizationClient({ organizationId: ORG })).client?.clientId).toBe(client.clientId);
  });

  it("discovers the token endpoint from RFC 8414 metadata served for the issuer", async () => {
    let metadataRequests = 0;
    const metadata = createHttpServer((_req, res) => {
      metadataRequests++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer, token_endpoint: `${t.url}/oauth/token` }));
    });
    const issuer = await listen(metadata);
    try {
      const org = createClient(OrganizationClientService, transports[1]![1]([createClientCredentialsInterceptor({ issuer, ...client })]));
      for (let i = 0; i < 3; i++) expect((await org.getOrganizationClient({ organizationId: ORG })).client?.clientId).toBe(client.clientId);
      expect(metadataRequests).toBe(1);
    } finally {
      metadata.closeAllConnections();
      await new Promise((r) => metadata.close(r));
    }
  });

  it("refreshes and retries once when the server refuses a token that worked before (its key left the set), then succeeds", async () => {
    // A second guarded server trusts the issuer's keys and, at first, one more key that signed a
    // token the client holds; when that key leaves, the token is refused as invalid_token.
    const extra = await makeKey("ES256", "left-key");
    let trusted = true;
    const issuerKeys = async () => (await fetch(`${t.url}/.well-known/jwks.json`)).json() as Promise<JSONWebKeySet>;
    const keys = async () => ({ keys: [...(await issuerKeys()).keys, ...(trusted ? [extra.jwk] : [])] });
    // No token cache: the token would otherwise be admitted from it until a cache miss reads the set.
    const guard = createAuthInterceptor({ issuer: t.issuer, audience: AUDIENCE, keys, tokenCache: false });
    const server = http2.createServer(connectNodeAdapter({ routes, interceptors: [guard] }));
    const url = await listen(server);
    try {
      const stale = await sign(extra, { ...claims(), iss: t.issuer, aud: [AUDIENCE], sub: client.clientId, client_id: client.clientId, oid: ORG });
      const real = createTokenSource({ tokenUrl: `${t.url}/oauth/token`, ...client });
      let useStale = true;
      const seen: string[] = [];
      const source: TokenSource = {
        getToken: async () => (useStale ? stale : real.getToken()),
        invalidate: (token) => (seen.push(token), (useStale = false)),
      };
      const org = createClient(
        OrganizationClientService,
        createGrpcTransport({ baseUrl: url, interceptors: [createClientCredentialsInterceptor({ tokenSource: source })] }),
      );
      await org.getOrganizationClient({ organizationId: ORG });
      trusted = false;
      expect((await org.getOrganizationClient({ organizationId: ORG })).client?.clientId).toBe(client.clientId);
      expect(seen).toEqual([stale]);
    } finally {
      server.close();
    }
  });

  it.each([
    ["grpc", createGrpcTransport],
    ["connect", createConnectTransport],
  ] as const)("a server that keeps refusing over %s (wrong audience): one token request per call, each call sent once", async (_name, make) => {
    const guard = createAuthInterceptor({ issuer: t.issuer, audience: "https://elsewhere.acmecorp.test", keys: { jwksUri: `${t.url}/.well-known/jwks.json` } });
    const server = http2.createServer(connectNodeAdapter({ routes, interceptors: [guard] }));
    const baseUrl = await listen(server);
    try {
      const counter = countingFetch();
      let sent = 0;
      const counting: Interceptor = (next) => (req) => (sent++, next(req));
      const interceptor = createClientCredentialsInterceptor({ tokenUrl: `${t.url}/oauth/token`, ...client, fetch: counter.fetch });
      const org = createClient(OrganizationClientService, make({ baseUrl, httpVersion: "2", interceptors: [interceptor, counting] }));
      for (let call = 1; call <= 3; call++) {
        const err = await failure(org.getOrganizationClient({ organizationId: ORG }));
        expect(err.code).toBe(Code.Unauthenticated);
        // What the auth interceptor sends back, and the client reads: the headers survive the protocol.
        expect(err.metadata.get("www-authenticate")).toMatch(/^Bearer error="invalid_token", error_description="audience mismatch"/);
        expect(err.metadata.get(refusedBeforeHandlerHeader)).toBe("before-handler");
        expect(counter.requests).toBe(call);
        expect(sent).toBe(call);
      }
    } finally {
      server.close();
    }
  });

  it("a wrong secret fails the call with Unauthenticated, the TokenRequestError as cause, no secret in sight", async () => {
    const wrong = "wrong-secret: not it";
    const org = createClient(
      OrganizationClientService,
      transports[0]![1]([createClientCredentialsInterceptor({ tokenUrl: `${t.url}/oauth/token`, clientId: client.clientId, clientSecret: wrong })]),
    );
    const err = await failure(org.getOrganizationClient({ organizationId: ORG }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.cause).toBeInstanceOf(TokenRequestError);
    expect(err.cause).toMatchObject({ code: "invalid_client", status: 401, retryable: false });
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(client.clientSecret);
  });
});

describe("the retry-once rule and error mapping", () => {
  /** fake is a token source handing out tok-1, tok-2, ... and counting what it is asked. */
  function fake() {
    let n = 0;
    let current: string | undefined;
    const calls = { get: 0, invalidated: [] as string[] };
    const source: TokenSource = {
      async getToken() {
        calls.get++;
        return (current ??= `tok-${++n}`);
      },
      invalidate(token) {
        calls.invalidated.push(token);
        if (current === token) current = undefined;
      },
    };
    return { source, calls };
  }

  /** serve answers GetOrganizationClient with the caller's authorization header, after `check` passes. */
  function serve(interceptor: Interceptor, check: (authorization: string | null) => void = () => {}) {
    const headers: Array<string | null> = [];
    const transport = createRouterTransport(
      (router) =>
        router.service(OrganizationClientService, {
          getOrganizationClient(_req, ctx) {
            const authorization = ctx.requestHeader.get("authorization");
            headers.push(authorization);
            check(authorization);
            return { client: { clientId: authorization ?? "" } };
          },
          createOrganizationClient: () => ({}),
          listOrganizationClients: () => ({}),
          deleteOrganizationClient: () => ({}),
        }),
      { transport: { interceptors: [interceptor] } },
    );
    return { org: createClient(OrganizationClientService, transport), headers };
  }

  // As the auth interceptor refuses a bad token: invalid_token (RFC 6750 §3.1), before the handler.
  const invalidToken = (beforeHandler = true) =>
    new ConnectError("token expired", Code.Unauthenticated, {
      "www-authenticate": 'Bearer error="invalid_token", error_description="token expired"',
      ...(beforeHandler ? { [refusedBeforeHandlerHeader]: "before-handler" } : {}),
    });
  const refuse = (bad: string) => (authorization: string | null) => {
    if (authorization === `Bearer ${bad}`) throw invalidToken();
  };

  it("sets the bearer header, but leaves a caller's own authorization header alone", async () => {
    const { source, calls } = fake();
    const { org, headers } = serve(createClientCredentialsInterceptor({ tokenSource: source }));
    await org.getOrganizationClient({});
    await org.getOrganizationClient({}, { headers: { authorization: "Bearer mine" } });
    expect(headers).toEqual(["Bearer tok-1", "Bearer mine"]);
    expect(calls.get).toBe(1);
  });

  it("when a token that worked is refused as invalid_token, invalidates it, gets a fresh one and retries once", async () => {
    const { source, calls } = fake();
    let refused = "none";
    const { org, headers } = serve(createClientCredentialsInterceptor({ tokenSource: source }), (a) => refuse(refused)(a));
    await org.getOrganizationClient({});
    refused = "tok-1"; // it expired, say
    expect((await org.getOrganizationClient({})).client?.clientId).toBe("Bearer tok-2");
    expect(headers).toEqual(["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
    expect(calls.invalidated).toEqual(["tok-1"]);
  });

  it("a second Unauthenticated surfaces: no loop", async () => {
    const { source, calls } = fake();
    let refuseAll = false;
    const { org, headers } = serve(createClientCredentialsInterceptor({ tokenSource: source }), () => {
      if (refuseAll) throw invalidToken();
    });
    await org.getOrganizationClient({});
    refuseAll = true;
    const err = await failure(org.getOrganizationClient({}));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(headers).toEqual(["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
    expect(calls.get).toBe(3);
    // tok-2 was refused from its first use: the next call gets tok-3 and is not retried either.
    expect((await failure(org.getOrganizationClient({}))).code).toBe(Code.Unauthenticated);
    expect(headers.slice(3)).toEqual(["Bearer tok-3"]);
  });

  it("a server that refuses every token from its first use (a wrong audience): one token per call, never a retry", async () => {
    const { source, calls } = fake();
    const { org, headers } = serve(createClientCredentialsInterceptor({ tokenSource: source }), () => {
      throw invalidToken();
    });
    for (let i = 0; i < 3; i++) expect((await failure(org.getOrganizationClient({}))).code).toBe(Code.Unauthenticated);
    expect(headers).toEqual(["Bearer tok-1", "Bearer tok-2", "Bearer tok-3"]);
    expect(calls.invalidated).toEqual(["tok-1", "tok-2", "tok-3"]);
  });

  it("does not re-send a non-idempotent call refused by its handler, nor one refused for another reason than invalid_token", async () => {
    const { source, calls } = fake();
    let refusal: ConnectError | undefined;
    const { org, headers } = serve(createClientCredentialsInterceptor({ tokenSource: source }), () => {
      if (refusal !== undefined) throw refusal;
    });
    await org.getOrganizationClient({});
    // GetOrganizationClient declares no idempotency level; the handler ran, so no marker.
    refusal = invalidToken(false);
    expect((await failure(org.getOrganizationClient({}))).code).toBe(Code.Unauthenticated);
    expect(headers).toEqual(["Bearer tok-1", "Bearer tok-1"]);
    expect(calls.invalidated).toEqual(["tok-1"]);
    await org.getOrganizationClient({}).catch(() => undefined); // tok-2, refused from its first use
    refusal = undefined;
    await org.getOrganizationClient({}); // tok-3 works
    // An Unauthenticated that does not say the token is invalid: not re-sent, the token kept.
    refusal = new ConnectError("who are you", Code.Unauthenticated, {
      "www-authenticate": 'Bearer error="invalid_request"',
      [refusedBeforeHandlerHeader]: "before-handler",
    });
    expect((await failure(org.getOrganizationClient({}))).code).toBe(Code.Unauthenticated);
    expect(headers.slice(2)).toEqual(["Bearer tok-2", "Bearer tok-3", "Bearer tok-3"]);
    expect(calls.invalidated).toEqual(["tok-1", "tok-2"]);
  });

  /** unary calls the interceptor directly for a method of the given idempotency level. */
  function unary(interceptor: Interceptor, idempotency: MethodOptions_IdempotencyLevel, answer: (n: number) => void) {
    let sent = 0;
    const next = async (): Promise<never> => {
      answer(++sent);
      return { stream: false, header: new Headers(), trailer: new Headers(), message: {} } as never;
    };
    const call = () => {
      const req = { stream: false, method: { idempotency }, header: new Headers(), signal: new AbortController().signal } as unknown as UnaryRequest;
      return interceptor(next)(req);
    };
    return { call, sent: () => sent };
  }

  it("re-sends an idempotent method refused as invalid_token even without the marker, and honours retryOnInvalidToken", async () => {
    for (const [retryOnInvalidToken, level, marker, resent] of [
      [undefined, MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS, false, true],
      [undefined, MethodOptions_IdempotencyLevel.IDEMPOTENT, false, true],
      [undefined, MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN, true, true],
      [undefined, MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN, false, false],
      [{ idempotentOnly: true }, MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN, true, false],
      [{ idempotentOnly: true }, MethodOptions_IdempotencyLevel.IDEMPOTENT, false, true],
      [false, MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS, true, false],
    ] as const) {
      const { source } = fake();
      const interceptor = createClientCredentialsInterceptor({ tokenSource: source, ...(retryOnInvalidToken === undefined ? {} : { retryOnInvalidToken }) });
      const c = unary(interceptor, level, (n) => {
        if (n === 2) throw invalidToken(marker);
      });
      await c.call(); // the token works once
      const second = c.call();
      if (resent) await second;
      else await failure(second);
      expect(c.sent(), JSON.stringify({ retryOnInvalidToken, level, marker })).toBe(resent ? 3 : 2);
    }
    expect(() => createClientCredentialsInterceptor({ tokenSource: fake().source, retryOnInvalidToken: { idempotentOnly: "yes" } as never })).toThrow(
      /^retryOnInvalidToken: /,
    );
  });

  it("does not retry other errors, nor a call that brought its own header", async () => {
    const { source, calls } = fake();
    const denied = serve(createClientCredentialsInterceptor({ tokenSource: source }), () => {
      throw new ConnectError("no", Code.PermissionDenied);
    });
    expect((await failure(denied.org.getOrganizationClient({}))).code).toBe(Code.PermissionDenied);
    expect(denied.headers).toHaveLength(1);
    const own = serve(createClientCredentialsInterceptor({ tokenSource: source }), refuse("mine"));
    const err = await failure(own.org.getOrganizationClient({}, { headers: { authorization: "Bearer mine" } }));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(own.headers).toHaveLength(1);
    expect(calls.invalidated).toEqual([]);
  });

  it("concurrent calls refused with the same stale token cause one token request", async () => {
    let requests = 0;
    const fetchToken = (async () => {
      requests++;
      return new Response(JSON.stringify({ access_token: `tok-${requests}`, token_type: "Bearer", expires_in: 3600 }), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }) as typeof fetch;
    const interceptor = createClientCredentialsInterceptor({
      tokenUrl: "https://auth.example/token",
      clientId: "id",
      clientSecret: "secret",
      fetch: fetchToken,
    });
    let refused = "none";
    const { org, headers } = serve(interceptor, (authorization) => refuse(refused)(authorization));
    await org.getOrganizationClient({});
    expect(requests).toBe(1);
    // tok-1 is cached, then refused: twenty calls at once invalidate it, one fetch replaces it.
    refused = "tok-1";
    const results = await Promise.all(Array.from({ length: 20 }, () => org.getOrganizationClient({})));
    expect(results.every((r) => r.client?.clientId === "Bearer tok-2")).toBe(true);
    expect(requests).toBe(2);
    expect(headers.filter((h) => h === "Bearer tok-1")).toHaveLength(21);
  });

  it("does not retry a streaming call, but still invalidates its token", async () => {
    const { source, calls } = fake();
    let sent = 0;
    const next = async (): Promise<never> => {
      sent++;
      throw invalidToken();
    };
    const req = { stream: true, header: new Headers(), signal: new AbortController().signal } as unknown as StreamRequest;
    const call = createClientCredentialsInterceptor({ tokenSource: source })(next)(req);
    expect((await failure(call)).code).toBe(Code.Unauthenticated);
    expect(sent).toBe(1);
    expect(calls.invalidated).toEqual(["tok-1"]);
  });

  const SECRET = "top: secret value";
  const tokenError = (status: number, body: unknown) =>
    createClientCredentialsInterceptor({
      tokenUrl: "https://auth.example/token",
      clientId: "id",
      clientSecret: SECRET,
      retry: { attempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
      fetch: async () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } }),
    });

  it.each<[string, number, unknown, Code, string]>([
    ["invalid_client", 401, { error: "invalid_client", error_description: `bad ${SECRET}` }, Code.Unauthenticated, "invalid_client"],
    ["invalid_scope", 400, { error: "invalid_scope" }, Code.Unauthenticated, "invalid_scope"],
    ["a 503", 503, { error: "temporarily_unavailable" }, Code.Unavailable, "temporarily_unavailable"],
    ["a 500 without a body", 500, null, Code.Unavailable, "unavailable"],
  ])("a token endpoint answering %s fails the call before it is sent", async (_name, status, body, code, oauthCode) => {
    const { org, headers } = serve(tokenError(status, body));
    const err = await failure(org.getOrganizationClient({}));
    expect(err.code).toBe(code);
    expect(err.cause).toBeInstanceOf(TokenRequestError);
    expect((err.cause as TokenRequestError).code).toBe(oauthCode);
    expect(err.message).not.toContain(SECRET);
    expect(headers).toEqual([]);
  });

  it("a call's deadline bounds the wait for a token", async () => {
    const source: TokenSource = { getToken: () => new Promise(() => {}), invalidate: () => {} };
    const { org } = serve(createClientCredentialsInterceptor({ tokenSource: source }));
    expect((await failure(org.getOrganizationClient({}, { timeoutMs: 50 }))).code).toBe(Code.DeadlineExceeded);
  });

  it("rejects a tokenSource without getToken and invalidate", () => {
    expect(() => createClientCredentialsInterceptor({ tokenSource: {} as TokenSource })).toThrow(/^tokenSource: /);
    expect(() => createClientCredentialsInterceptor({ clientId: "id", clientSecret: "s" })).toThrow(/^tokenUrl: /);
  });
});
