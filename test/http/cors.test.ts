import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { createM2MServer, type M2MServer } from "../../src/server.js";
import { createMemoryStore } from "../../src/store/memory-store.js";

// Opt-in CORS (M2M_CORS_ORIGINS) on the real port: a browser's preflight and actual requests to
// Connect, gRPC-Web and the OAuth endpoints from an allowed origin get the headers connect-es
// documents; another origin, or a server without the option, gets none.

const admin = { clientId: "cors-admin", clientSecret: "cors-admin-secret-0123456789abcdefghijklmnopq" };
const allowed = "https://console.example.com";

async function start(corsOrigins: readonly string[] | undefined): Promise<{ url: string; server: M2MServer }> {
  const server = await createM2MServer({
    host: "127.0.0.1",
    port: 0,
    issuer: "http://m2m-auth.test",
    signingAlg: "ES256",
    admin,
    store: createMemoryStore(),
    logger: pino({ level: "silent" }),
    corsOrigins,
  });
  const { url } = await server.listen();
  return { url, server };
}

const issueToken = "/m2mauth.v1.TokenService/IssueToken";

function preflight(url: string, path: string, origin: string, headers = "content-type,connect-protocol-version,authorization"): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers },
  });
}

function connectIssue(url: string, origin: string): Promise<Response> {
  return fetch(`${url}${issueToken}`, {
    method: "POST",
    headers: { origin, "content-type": "application/json", "connect-protocol-version": "1" },
    body: JSON.stringify({ client_id: admin.clientId, client_secret: admin.clientSecret }),
  });
}

function corsHeaders(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith("access-control-")));
}

const csv = (value: string | null) => (value ?? "").split(",").map((v) => v.trim().toLowerCase());

describe("CORS with listed origins", () => {
  let url: string;
  let server: M2MServer;
  beforeAll(async () => ({ url, server } = await start([allowed, "http://localhost:5173"])));
  afterAll(() => server.close());

  it.each([issueToken, "/oauth/token", "/api/v1/organizations/org_a/clients"])("answers a preflight to %s from an allowed origin", async (path) => {
    const res = await preflight(url, path, allowed);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
    expect(csv(res.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["post", "get"]));
    expect(csv(res.headers.get("access-control-allow-headers"))).toEqual(
      expect.arrayContaining(["content-type", "connect-protocol-version", "connect-timeout-ms", "grpc-timeout", "x-grpc-web", "x-user-agent", "authorization"]),
    );
    expect(res.headers.get("access-control-max-age")).toBe("7200");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("vary")).toBe("Origin");
  });

  it("lets an allowed origin read a Connect answer and its error headers", async () => {
    const res = await connectIssue(url, "http://localhost:5173");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(csv(res.headers.get("access-control-expose-headers"))).toEqual(
      expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "m2m-error-reason", "www-authenticate"]),
    );
    expect(res.headers.get("vary")).toBe("Origin");
  });

  it("covers the OAuth endpoints: token and JWKS", async () => {
    const token = await fetch(`${url}/oauth/token`, {
      method: "POST",
      headers: { origin: allowed, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: admin.clientId, client_secret: admin.clientSecret }),
    });
    expect(token.status).toBe(200);
    expect(token.headers.get("access-control-allow-origin")).toBe(allowed);
    const jwks = await fetch(`${url}/.well-known/jwks.json`, { headers: { origin: allowed } });
    expect([jwks.status, jwks.headers.get("access-control-allow-origin")]).toEqual([200, allowed]);
  });

  it("serves gRPC-Web from connect-web to an allowed origin, as a browser's fetch would send it", async () => {
    const seen: Response[] = [];
    const transport = createGrpcWebTransport({
      baseUrl: url,
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set("origin", allowed);
        const res = await fetch(input, { ...init, headers });
        seen.push(res);
        return res;
      },
    });
    const issued = await createClient(TokenService, transport).issueToken({ clientId: admin.clientId, clientSecret: admin.clientSecret });
    expect(issued.tokenType).toBe("Bearer");
    expect(seen.map((res) => res.headers.get("access-control-allow-origin"))).toEqual([allowed]);
  });

  it("gives another origin no CORS header at all, preflight or not", async () => {
    for (const origin of ["https://evil.example.com", "https://console.example.com.evil.example", "null"]) {
      const res = await preflight(url, issueToken, origin);
      expect(res.status).not.toBe(204);
      expect(corsHeaders(res)).toEqual({});
      const actual = await connectIssue(url, origin);
      // The request itself is served as without CORS: the browser keeps the answer from the page.
      expect(actual.status).toBe(200);
      expect(corsHeaders(actual)).toEqual({});
    }
    expect(corsHeaders(await fetch(`${url}/.well-known/jwks.json`))).toEqual({});
  });
});

describe("CORS with `*`", () => {
  let url: string;
  let server: M2MServer;
  beforeAll(async () => ({ url, server } = await start(["*"])));
  afterAll(() => server.close());

  it("allows any origin, never with credentials, and needs no Vary", async () => {
    const pre = await preflight(url, "/oauth/token", "https://anywhere.example");
    expect([pre.status, pre.headers.get("access-control-allow-origin"), pre.headers.get("access-control-allow-credentials")]).toEqual([204, "*", null]);
    const res = await connectIssue(url, "https://anywhere.example");
    expect([res.headers.get("access-control-allow-origin"), res.headers.get("vary")]).toEqual(["*", null]);
  });
});

describe("without M2M_CORS_ORIGINS", () => {
  let url: string;
  let server: M2MServer;
  beforeAll(async () => ({ url, server } = await start(undefined)));
  afterAll(() => server.close());

  it("sends no CORS header and answers no preflight", async () => {
    const pre = await preflight(url, issueToken, allowed);
    expect(pre.status).not.toBe(204);
    expect(corsHeaders(pre)).toEqual({});
    const res = await connectIssue(url, allowed);
    expect([res.status, res.headers.get("vary")]).toEqual([200, null]);
    expect(corsHeaders(res)).toEqual({});
  });
});
