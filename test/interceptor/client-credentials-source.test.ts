// createTokenSource with a fake fetch, clock and sleep: caching, single flight, refresh ahead of
// expiry, retries, client authentication encodings, response checks and RFC 8414 discovery.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { createTokenSource, TokenRequestError, type TokenSourceOptions } from "../../src/interceptor/index.js";

const SECRET = "s3cr3t: with+special/chars%&=é";
const TOKEN_URL = "https://auth.example/oauth/token";

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  form: URLSearchParams;
  signal: AbortSignal | undefined;
}

type Handler = (req: Sent, n: number) => Response | Promise<Response>;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const issued = (token: string, expiresIn: unknown = 100): Response => json(200, { access_token: token, token_type: "Bearer", expires_in: expiresIn });
const oauthError = (status: number, error: string, description = "", headers: Record<string, string> = {}): Response =>
  json(status, { error, error_description: description }, headers);

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** setup returns a token source over a fake fetch, a settable clock and a recording sleep. */
function setup(handler: Handler, options: Partial<TokenSourceOptions> = {}) {
  const sent: Sent[] = [];
  const sleeps: number[] = [];
  const clock = { now: 1_000_000 };
  const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const req: Sent = {
      url: input instanceof Request ? input.url : String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      form: new URLSearchParams(typeof init?.body === "string" ? init.body : ""),
      signal: init?.signal ?? undefined,
    };
    sent.push(req);
    return handler(req, sent.length);
  }) as typeof fetch;
  const source = createTokenSource({
    tokenUrl: TOKEN_URL,
    clientId: "client-1",
    clientSecret: SECRET,
    fetch: fakeFetch,
    clock: () => clock.now,
    sleep: async (ms) => void sleeps.push(ms),
    ...options,
  });
  return { source, sent, sleeps, clock };
}

async function rejection(p: Promise<unknown>): Promise<TokenRequestError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRequestError);
  const e = err as TokenRequestError;
  expect(e.message).not.toContain(SECRET);
  expect(String(e)).not.toContain(SECRET);
  return e;
}

const flush = () => new Promise((r) => setImmediate(r));

describe("caching and single flight", () => {
  it("asks once for many sequential calls", async () => {
    const { source, sent } = setup(() => issued("tok-1"));
    for (let i = 0; i < 10; i++) expect(await source.getToken()).toBe("tok-1");
    expect(sent).toHaveLength(1);
  });

  it("lets 50 concurrent first calls share one request", async () => {
    const gate = deferred<void>();
    const { source, sent } = setup(async () => (await gate.promise, issued("tok-1")));
    const calls = Array.from({ length: 50 }, () => source.getToken());
    await flush();
    expect(sent).toHaveLength(1);
    gate.resolve();
    expect(new Set(await Promise.all(calls))).toEqual(new Set(["tok-1"]));
    expect(sent).toHaveLength(1);
  });

  it("refreshes in the background at 80% of the lifetime and hands out the old token meanwhile", async () => {
    const gate = deferred<void>();
    const { source, sent, clock } = setup(async (_req, n) => (n === 1 ? issued("tok-1") : (await gate.promise, issued("tok-2"))));
    const start = clock.now;
    expect(await source.getToken()).toBe("tok-1");
    clock.now = start + 79_000;
    expect(await source.getToken()).toBe("tok-1");
    expect(sent).toHaveLength(1);
    clock.now = start + 81_000;
    // The refresh is still waiting at the gate, yet every caller is answered at once.
    expect(await Promise.all(Array.from({ length: 20 }, () => source.getToken()))).toEqual(Array(20).fill("tok-1"));
    expect(sent).toHaveLength(2);
    gate.resolve();
    await flush();
    expect(await source.getToken()).toBe("tok-2");
    expect(sent).toHaveLength(2);
  });

  it("keeps the old token until it expires when the refresh fails, then surfaces the error", async () => {
    const { source, sent, clock } = setup((_req, n) => (n === 1 ? issued("tok-1") : oauthError(401, "invalid_client")));
    const start = clock.now;
    await source.getToken();
    clock.now = start + 85_000;
    expect(await source.getToken()).toBe("tok-1");
    await flush();
    expect(sent).toHaveLength(2);
    // No new attempt on every call: the next waits retry.maxDelayMs (5 s).
    clock.now = start + 89_000;
    expect(await source.getToken()).toBe("tok-1");
    expect(sent).toHaveLength(2);
    clock.now = start + 90_001;
    expect(await source.getToken()).toBe("tok-1");
    await flush();
    expect(sent).toHaveLength(3);
    clock.now = start + 100_000;
    expect((await rejection(source.getToken())).code).toBe("invalid_client");
  });

  it("honours refreshRatio", async () => {
    const { source, sent, clock } = setup((_req, n) => issued(`tok-${n}`), { refreshRatio: 0.5 });
    const start = clock.now;
    await source.getToken();
    clock.now = start + 49_000;
    await source.getToken();
    expect(sent).toHaveLength(1);
    clock.now = start + 51_000;
    await source.getToken();
    expect(sent).toHaveLength(2);
  });

  it("invalidate drops only that token, and concurrent invalidations of it cause one refetch", async () => {
    const { source, sent } = setup((_req, n) => issued(`tok-${n}`));
    expect(await source.getToken()).toBe("tok-1");
    source.invalidate("some-other-token");
    expect(await source.getToken()).toBe("tok-1");
    const callers = Array.from({ length: 10 }, () => {
      source.invalidate("tok-1");
      return source.getToken();
    });
    expect(await Promise.all(callers)).toEqual(Array(10).fill("tok-2"));
    source.invalidate("tok-1");
    expect(await source.getToken()).toBe("tok-2");
    expect(sent).toHaveLength(2);
  });
});

describe("retries", () => {
  it("retries a 503 with growing, jittered backoff, then succeeds", async () => {
    const { source, sent, sleeps } = setup((_req, n) => (n < 3 ? oauthError(503, "temporarily_unavailable") : issued("tok-1")));
    expect(await source.getToken()).toBe("tok-1");
    expect(sent).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(100);
    expect(sleeps[0]).toBeLessThanOrEqual(200);
    expect(sleeps[1]).toBeGreaterThanOrEqual(200);
    expect(sleeps[1]).toBeLessThanOrEqual(400);
    expect(sleeps[1]).toBeGreaterThanOrEqual(sleeps[0]!);
  });

  it("caps the backoff at maxDelayMs", async () => {
    vi.spyOn(Math, "random").mockReturnValue(1);
    try {
      const { source, sleeps } = setup(() => json(502, {}), { retry: { attempts: 6, baseDelayMs: 100, maxDelayMs: 500 } });
      const err = await rejection(source.getToken());
      expect(err).toMatchObject({ code: "unavailable", status: 502, retryable: true });
      expect(sleeps).toEqual([100, 200, 400, 500, 500]);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("waits as long as Retry-After asks on 503 and 429", async () => {
    const { source, sleeps } = setup((_req, n) =>
      n === 1 ? oauthError(503, "temporarily_unavailable", "", { "retry-after": "2" }) : n === 2 ? json(429, {}, { "retry-after": "3" }) : issued("tok-1"),
    );
    expect(await source.getToken()).toBe("tok-1");
    expect(sleeps).toEqual([2000, 3000]);
  });

  it("gives up at once when Retry-After is longer than maxDelayMs", async () => {
    const { source, sent, sleeps } = setup(() => oauthError(503, "temporarily_unavailable", "", { "retry-after": "60" }));
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: "temporarily_unavailable", status: 503, retryable: true, retryAfterMs: 60_000 });
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("retries network errors and reports code network after the last attempt", async () => {
    const { source, sent } = setup(() => Promise.reject(new TypeError(`fetch failed for ${SECRET}`)));
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: "network", status: undefined, retryable: true });
    expect(err.message).toBe("token request failed: network error");
    expect(sent).toHaveLength(3);
  });

  it("times out a request that does not answer within timeoutMs", async () => {
    const { source } = setup(
      // As fetch does, it rejects with the signal's reason: AbortSignal.timeout's DOMException.
      (req) => new Promise((_resolve, reject) => req.signal?.addEventListener("abort", () => reject(req.signal?.reason as DOMException))),
      { timeoutMs: 20, retry: { attempts: 1 } },
    );
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: "network", retryable: true });
    expect(err.message).toContain("timed out after 20 ms");
  });

  it.each([
    [401, "invalid_client"],
    [400, "invalid_scope"],
    [400, "unauthorized_client"],
  ])("does not retry HTTP %i %s", async (status, error) => {
    // Even a server that echoes the secret back does not get it into the message.
    const { source, sent, sleeps } = setup(() => oauthError(status, error, `bad secret ${SECRET}`));
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: error, status, retryable: false });
    expect(err.message).toBe(`token request failed: HTTP ${status} ${error}: bad secret [redacted]`);
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("a failed first fetch is not cached: the next call asks again", async () => {
    const { source, sent } = setup((_req, n) => (n === 1 ? oauthError(401, "invalid_client") : issued("tok-1")));
    await rejection(source.getToken());
    expect(await source.getToken()).toBe("tok-1");
    expect(sent).toHaveLength(2);
  });
});

describe("the token request", () => {
  function decodeBasic(header: string | null): [string, string] {
    const decoded = atob(header!.replace(/^Basic /, ""));
    const colon = decoded.indexOf(":");
    const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
    return [formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))];
  }

  it("uses client_secret_basic by default, form-urlencoding id and secret first (RFC 6749 §2.3.1)", async () => {
    const { source, sent } = setup(() => issued("tok-1"), {
      clientId: "my client:1",
      scope: ["read:a", "write:b"],
      audience: "https://api.one https://api.two",
    });
    await source.getToken();
    const [req] = sent;
    expect(req!.url).toBe(TOKEN_URL);
    expect(req!.method).toBe("POST");
    expect(req!.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    const header = req!.headers.get("authorization")!;
    expect(atob(header.slice(6))).toBe("my+client%3A1:s3cr3t%3A+with%2Bspecial%2Fchars%25%26%3D%C3%A9");
    expect(decodeBasic(header)).toEqual(["my client:1", SECRET]);
    expect(Object.fromEntries(req!.form)).toEqual({ grant_type: "client_credentials", scope: "read:a write:b", audience: "https://api.one https://api.two" });
  });

  it("sends client_id and client_secret in the body with client_secret_post", async () => {
    const { source, sent } = setup(() => issued("tok-1"), { authMethod: "client_secret_post" });
    await source.getToken();
    expect(sent[0]!.headers.has("authorization")).toBe(false);
    expect(Object.fromEntries(sent[0]!.form)).toEqual({ grant_type: "client_credentials", client_id: "client-1", client_secret: SECRET });
  });

  it("accepts token_type in any case and assumes 60 s when expires_in is missing", async () => {
    const { source, sent, clock } = setup((_req, n) => json(200, { access_token: `tok-${n}`, token_type: "bearer" }));
    const start = clock.now;
    expect(await source.getToken()).toBe("tok-1");
    clock.now = start + 47_000;
    await source.getToken();
    expect(sent).toHaveLength(1);
    clock.now = start + 49_000;
    await source.getToken();
    expect(sent).toHaveLength(2);
  });

  it.each<[string, unknown]>([
    ["a non-JSON body", "<html>"],
    ["no access_token", { token_type: "Bearer", expires_in: 60 }],
    ["an access_token with a space", { access_token: "a b", token_type: "Bearer", expires_in: 60 }],
    ["token_type mac", { access_token: "tok", token_type: "mac", expires_in: 60 }],
    ["a negative expires_in", { access_token: "tok", token_type: "Bearer", expires_in: -5 }],
    ["a non-numeric expires_in", { access_token: "tok", token_type: "Bearer", expires_in: "soon" }],
  ])("rejects a 200 with %s as invalid_response, without retrying", async (_name, body) => {
    const { source, sent } = setup(
      () => new Response(typeof body === "string" ? body : JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } }),
    );
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: "invalid_response", status: 200, retryable: false });
    expect(sent).toHaveLength(1);
  });

  it("refuses a 200 whose content type is not JSON, without retrying", async () => {
    const { source, sent } = setup(
      () => new Response(JSON.stringify({ access_token: "tok", token_type: "Bearer" }), { status: 200, headers: { "content-type": "text/html" } }),
    );
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: "invalid_response", status: 200, retryable: false });
    expect(err.message).toContain("is not JSON");
    expect(sent).toHaveLength(1);
  });

  it("refuses an oversized token response, declared or streamed, reading no more than 1 MiB", async () => {
    let pulled = 0;
    const endless = () =>
      new Response(new ReadableStream({ pull: (c) => ((pulled += 65_536), c.enqueue(new Uint8Array(65_536).fill(0x20))) }), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    const declared = () => new Response("{}", { status: 200, headers: { "content-type": "application/json", "content-length": String(2 << 20) } });
    for (const answer of [endless, declared]) {
      const { source, sent } = setup(answer);
      const err = await rejection(source.getToken());
      expect(err).toMatchObject({ code: "invalid_response", status: 200, retryable: false });
      expect(err.message).toMatch(/larger than 1048576 bytes/);
      expect(sent).toHaveLength(1);
    }
    expect(pulled).toBeLessThanOrEqual((1 << 20) + 2 * 65_536);
  });

  it("sends the token request with redirect: manual", async () => {
    const inits: RequestInit[] = [];
    const { source } = setup(() => issued("tok"), {
      fetch: async (_url: string | URL | Request, init?: RequestInit) => (inits.push(init ?? {}), issued("tok")),
    });
    await source.getToken();
    expect(inits.map((i) => i.redirect)).toEqual(["manual"]);
  });

  it("treats a redirect as an error rather than following it with the credentials", async () => {
    const { source } = setup(() => new Response(null, { status: 307, headers: { location: "https://elsewhere.example/" } }));
    expect(await rejection(source.getToken())).toMatchObject({ code: "invalid_response", status: 307, retryable: false });
  });
});

describe("discovery (RFC 8414)", () => {
  const ISSUER = "https://auth.example";
  const metadata = (issuer = ISSUER) => json(200, { issuer, token_endpoint: "https://tokens.example/token" });

  it("reads token_endpoint from the issuer's metadata once", async () => {
    const { source, sent } = setup((req, n) => (req.method === "GET" ? metadata() : issued(`tok-${n}`)), { tokenUrl: undefined, issuer: `${ISSUER}` });
    const first = await source.getToken();
    source.invalidate(first);
    await source.getToken();
    expect(sent.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET https://auth.example/.well-known/oauth-authorization-server",
      "POST https://tokens.example/token",
      "POST https://tokens.example/token",
    ]);
  });

  it("refuses metadata whose issuer is not the configured one (§3.3) and sends no credentials", async () => {
    const { source, sent } = setup(() => metadata("https://evil.example"), { tokenUrl: undefined, issuer: ISSUER });
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: "invalid_response", retryable: false });
    expect(err.message).toContain("issuer does not match");
    expect(sent.every((r) => r.method === "GET")).toBe(true);
  });

  it("looks under /.well-known/oauth-authorization-server/{path} first for an issuer with a path (§3.1)", async () => {
    const issuer = "https://auth.example/tenant/a";
    const { source, sent } = setup(
      (req) => (req.url.endsWith("/tenant/a/.well-known/oauth-authorization-server") ? metadata(issuer) : req.method === "GET" ? json(404, {}) : issued("tok")),
      { tokenUrl: undefined, issuer },
    );
    expect(await source.getToken()).toBe("tok");
    expect(sent.map((r) => r.url)).toEqual([
      "https://auth.example/.well-known/oauth-authorization-server/tenant/a",
      "https://auth.example/tenant/a/.well-known/oauth-authorization-server",
      "https://tokens.example/token",
    ]);
  });

  it("refuses an oversized metadata document and sends no credentials", async () => {
    const huge = json(200, { issuer: ISSUER, token_endpoint: "https://tokens.example/token", padding: "x".repeat(1 << 20) });
    const { source, sent } = setup((req) => (req.method === "GET" ? huge : issued("tok")), { tokenUrl: undefined, issuer: ISSUER });
    const err = await rejection(source.getToken());
    expect(err).toMatchObject({ code: "invalid_response", status: 200, retryable: false });
    expect(err.message).toMatch(/^metadata request: response is larger than/);
    expect(sent.every((r) => r.method === "GET")).toBe(true);
  });

  it("does not follow a redirecting metadata endpoint", async () => {
    // Real servers, so a fetch that follows redirects would reach the second one.
    let targetRequests = 0;
    const target = createServer((_req, res) => {
      targetRequests++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer, token_endpoint: "https://tokens.example/token" }));
    });
    const redirector = createServer((_req, res) => res.writeHead(302, { location: `${targetUrl}/.well-known/oauth-authorization-server` }).end());
    const listen = (server: ReturnType<typeof createServer>) =>
      new Promise<string>((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
    const targetUrl = await listen(target);
    const issuer = await listen(redirector);
    try {
      const source = createTokenSource({ issuer, clientId: "id", clientSecret: SECRET, retry: { attempts: 1 } });
      const err = await rejection(source.getToken());
      expect(err).toMatchObject({ code: "invalid_response", status: 302, retryable: false });
      expect(err.message).toContain("is not followed");
      expect(targetRequests).toBe(0);
    } finally {
      for (const server of [target, redirector]) {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    }
  });

  it("retries a failed lookup on a later call", async () => {
    const { source, sent } = setup((req, n) => (req.method === "POST" ? issued("tok") : n === 1 ? json(500, {}) : metadata()), {
      tokenUrl: undefined,
      issuer: ISSUER,
      retry: { attempts: 1 },
    });
    expect((await rejection(source.getToken())).code).toBe("unavailable");
    expect(await source.getToken()).toBe("tok");
    expect(sent.filter((r) => r.method === "GET")).toHaveLength(2);
  });
});

describe("options", () => {
  const base = { tokenUrl: TOKEN_URL, clientId: "id", clientSecret: "secret" };
  it.each<[string, unknown]>([
    ["tokenUrl", { clientId: "id", clientSecret: "secret" }],
    ["tokenUrl", { ...base, issuer: "https://auth.example" }],
    ["tokenUrl", { ...base, tokenUrl: "/oauth/token" }],
    ["tokenUrl", { ...base, tokenUrl: "ftp://auth.example/token" }],
    ["issuer", { clientId: "id", clientSecret: "secret", issuer: "https://auth.example?x=1" }],
    ["clientId", { ...base, clientId: "" }],
    ["clientSecret", { ...base, clientSecret: undefined }],
    ["scope", { ...base, scope: ["read write"] }],
    ["audience", { ...base, audience: 42 }],
    ["authMethod", { ...base, authMethod: "private_key_jwt" }],
    ["refreshRatio", { ...base, refreshRatio: 0 }],
    ["refreshRatio", { ...base, refreshRatio: 1.5 }],
    ["retry.attempts", { ...base, retry: { attempts: 0 } }],
    ["retry.maxDelayMs", { ...base, retry: { baseDelayMs: 1000, maxDelayMs: 10 } }],
    ["timeoutMs", { ...base, timeoutMs: -1 }],
    ["fetch", { ...base, fetch: "fetch" }],
  ])("rejects misuse of %s with a TypeError naming it", (name, options) => {
    expect(() => createTokenSource(options as TokenSourceOptions)).toThrow(TypeError);
    expect(() => createTokenSource(options as TokenSourceOptions)).toThrow(new RegExp(`^${name.replace(".", "\\.")}: `));
  });

  it("does not put the secret in a TypeError", () => {
    expect(() => createTokenSource({ ...base, clientSecret: SECRET, refreshRatio: 2 })).toThrow(/^refreshRatio: /);
    try {
      createTokenSource({ ...base, clientSecret: SECRET, refreshRatio: 2 });
    } catch (err) {
      expect(String(err)).not.toContain(SECRET);
    }
  });
});
