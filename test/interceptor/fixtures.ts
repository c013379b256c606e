// Test fixtures: key pairs, token signing, a real connect-node HTTP/2 server and a JWKS server.
import { createHmac, randomUUID } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient, type Client, type ConnectRouter, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet, type JWK, type JWTPayload } from "jose";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { createAuthInterceptor, getAuthClaims, type AuthInterceptorOptions } from "../../src/interceptor/index.js";

export const ISSUER = "https://auth.test";
export const AUDIENCE = "https://api.test";
export const GET = "/m2mauth.v1.OrganizationClientService/GetOrganizationClient";
export const ISSUE = "/m2mauth.v1.TokenService/IssueToken";

/** TestKey is a key pair with its public JWK as published. */
export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export async function makeKey(alg: "RS256" | "ES256" | "EdDSA", kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicKey, jwk };
}

export function jwksOf(...keys: TestKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => k.jwk) };
}

export const now = (): number => Math.floor(Date.now() / 1000);

export function claims(extra: JWTPayload = {}): JWTPayload {
  const t = now();
  return {
    iss: ISSUER,
    sub: "m2morg_abc123",
    aud: [AUDIENCE],
    iat: t,
    nbf: t,
    exp: t + 300,
    jti: randomUUID(),
    client_id: "m2morg_abc123",
    scope: "m2m:clients:read",
    scopes: ["m2m:clients:read"],
    oid: "org_42",
    ...extra,
  };
}

/** sign returns a token signed by `key`; `header` is merged over {alg, kid, typ: "at+jwt"}. */
export async function sign(key: TestKey, payload: JWTPayload = claims(), header: Record<string, unknown> = {}): Promise<string> {
  const protectedHeader = { alg: key.alg, kid: key.kid, typ: "at+jwt", ...header };
  for (const [k, v] of Object.entries(protectedHeader)) if (v === undefined) delete protectedHeader[k as keyof typeof protectedHeader];
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.privateKey);
}

const b64json = (v: unknown): string => base64url.encode(JSON.stringify(v));

/** signRaw signs an RS256 token with any header, bypassing jose's checks on the header. */
export async function signRaw(key: TestKey, header: Record<string, unknown>, payload: JWTPayload): Promise<string> {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key.privateKey, new TextEncoder().encode(input));
  return `${input}.${base64url.encode(new Uint8Array(signature))}`;
}

/** unsecured returns an `alg: none` token (RFC 7519 §6). */
export function unsecured(payload: JWTPayload, kid: string): string {
  return `${b64json({ alg: "none", kid, typ: "at+jwt" })}.${b64json(payload)}.`;
}

/** hmacWithPublicKey signs HS256 with the RSA public key's SPKI PEM as the secret (key confusion). */
export async function hmacWithPublicKey(key: TestKey, payload: JWTPayload): Promise<string> {
  const pem = await exportSPKI(key.publicKey);
  const input = `${b64json({ alg: "HS256", kid: key.kid, typ: "at+jwt" })}.${b64json(payload)}`;
  return `${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
}

/** TestServer is a running connect-node server guarded by the auth interceptor. */
export interface TestServer {
  baseUrl: string;
  close(): Promise<void>;
}

function routes(router: ConnectRouter): void {
  router.service(OrganizationClientService, {
    getOrganizationClient(_req, ctx) {
      const c = getAuthClaims(ctx);
      return { client: { clientId: c.sub, organizationId: String(c["oid"] ?? ""), scopes: c.scopes } };
    },
    createOrganizationClient: (_req, ctx) => ({ plainSecret: getAuthClaims(ctx).client_id }),
    listOrganizationClients: () => ({}),
    deleteOrganizationClient: () => ({}),
  });
  router.service(TokenService, {
    issueToken: () => ({ accessToken: "issued", tokenType: "Bearer" }),
    validateToken: () => ({ valid: false }),
  });
}

export async function startServer(options: AuthInterceptorOptions): Promise<TestServer> {
  const server = http2.createServer(connectNodeAdapter({ routes, interceptors: [createAuthInterceptor(options)] }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export type OrgClient = Client<typeof OrganizationClientService>;
export type TokenClient = Client<typeof TokenService>;

/** transports are the three wire protocols every case runs over. */
export const transports: Array<[string, (baseUrl: string) => Transport]> = [
  ["grpc", (baseUrl) => createGrpcTransport({ baseUrl })],
  ["connect", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" })],
  ["grpc-web", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2" })],
];

export function clients(transport: Transport): { org: OrgClient; tokens: TokenClient } {
  return { org: createClient(OrganizationClientService, transport), tokens: createClient(TokenService, transport) };
}

export const bearer = (token: string): { headers: Record<string, string> } => ({ headers: { authorization: `Bearer ${token}` } });

/** failure awaits a call expected to fail and returns its ConnectError. */
export async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new ConnectError("call succeeded but was expected to fail", Code.Unknown);
}

/** JsonServer serves a JSON document over HTTP/1.1 and counts the requests it gets. */
export interface JsonServer {
  url: string;
  requests: number;
  body: unknown;
  close(): Promise<void>;
}

export async function serveJson(body: unknown): Promise<JsonServer> {
  const state = { requests: 0, body };
  const server: HttpServer = createHttpServer((_req, res) => {
    state.requests++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(state.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return state.requests;
    },
    get body() {
      return state.body;
    },
    set body(v) {
      state.body = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
