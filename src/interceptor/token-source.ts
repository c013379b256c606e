// A client-credentials token source (RFC 6749 §4.4): gets an access token, caches it, refreshes it
// in the background before it expires, and lets concurrent callers share one request.
import { scopeTokenPattern } from "../rules.js";
import { discoverTokenEndpoint, requestToken, type IssuedToken, type TokenRequestConfig } from "./token-request.js";

/** TokenSourceOptions configures createTokenSource; give exactly one of tokenUrl or issuer. */
export interface TokenSourceOptions {
  /** tokenUrl is the absolute http(s) URL of the token endpoint (RFC 6749 §3.2). */
  tokenUrl?: string;
  /** issuer is the authorization server's issuer; its `token_endpoint` is read from its RFC 8414 metadata, once. */
  issuer?: string;
  /** clientId is the client identifier (RFC 6749 §2.2). */
  clientId: string;
  /** clientSecret is the client secret (RFC 6749 §2.3.1); it is never put in an error message. */
  clientSecret: string;
  /** scope is asked for as the space-delimited `scope` parameter (RFC 6749 §3.3); none by default. */
  scope?: string | readonly string[];
  /** audience is sent as the space-delimited `audience` parameter; none by default. */
  audience?: string | readonly string[];
  /** authMethod is how the client authenticates (RFC 6749 §2.3.1); "client_secret_basic" by default. */
  authMethod?: "client_secret_basic" | "client_secret_post";
  /** refreshRatio is the share of a token's lifetime after which it is refreshed, in (0, 1]; 0.8 by default. */
  refreshRatio?: number;
  /** retry bounds the attempts at a request that fails transiently: 3 attempts, 200 ms base, 5000 ms cap by default. */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** timeoutMs bounds each HTTP request; 10000 by default. */
  timeoutMs?: number;
  /** fetch replaces the global fetch. */
  fetch?: typeof fetch;
  /** clock returns the time in milliseconds; Date.now by default. */
  clock?: () => number;
  /** sleep waits between attempts; a timer by default. */
  sleep?: (ms: number) => Promise<void>;
}

/** TokenSource hands out a current access token for the configured client. */
export interface TokenSource {
  /** getToken returns a usable access token, fetching one only when none is cached or it has expired. */
  getToken(): Promise<string>;
  /** invalidate drops the cached token if it is `token`, so the next getToken fetches a new one. */
  invalidate(token: string): void;
}

interface CachedToken {
  token: string;
  refreshAt: number;
  expiresAt: number;
}

function absoluteUrl(name: string, value: unknown): string {
  if (typeof value !== "string" || !URL.canParse(value)) throw new TypeError(`${name}: must be an absolute http(s) URL`);
  const url = new URL(value);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError(`${name}: must be an absolute http(s) URL`);
  return value;
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw new TypeError(`${name}: must be a non-empty string`);
  return value;
}

function spaceList(name: string, value: unknown): string {
  if (value === undefined) return "";
  const items = typeof value === "string" ? value.split(" ").filter((s) => s !== "") : value;
  // RFC 6749 §3.3: each scope token is one or more visible ASCII characters except `"` and `\`;
  // an audience, sent space-delimited the same way, is held to the same characters.
  if (!Array.isArray(items) || !items.every((s) => typeof s === "string" && scopeTokenPattern.test(s))) {
    throw new TypeError(`${name}: must be a space-delimited string or an array of strings without spaces`);
  }
  return items.join(" ");
}

function numberIn(name: string, value: unknown, fallback: number, ok: (n: number) => boolean, rule: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || !ok(value)) throw new TypeError(`${name}: must be ${rule}`);
  return value;
}

function fn<T>(name: string, value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== "function") throw new TypeError(`${name}: must be a function`);
  return value as T;
}

const timerSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function configure(options: TokenSourceOptions): { config: TokenRequestConfig; tokenUrl?: string; issuer?: string; refreshRatio: number } {
  if (typeof options !== "object" || options === null) throw new TypeError("options: must be an object");
  if ((options.tokenUrl === undefined) === (options.issuer === undefined)) throw new TypeError("tokenUrl: give exactly one of tokenUrl or issuer");
  const tokenUrl = options.tokenUrl === undefined ? undefined : absoluteUrl("tokenUrl", options.tokenUrl);
  const issuer = options.issuer === undefined ? undefined : absoluteUrl("issuer", options.issuer);
  // RFC 8414 §2: an issuer identifier has no query or fragment.
  if (issuer !== undefined && (new URL(issuer).search !== "" || issuer.includes("#"))) throw new TypeError("issuer: must have no query or fragment");
  const authMethod = options.authMethod ?? "client_secret_basic";
  if (authMethod !== "client_secret_basic" && authMethod !== "client_secret_post") {
    throw new TypeError('authMethod: must be "client_secret_basic" or "client_secret_post"');
  }
  const retry: unknown = options.retry ?? {};
  if (typeof retry !== "object" || retry === null) throw new TypeError("retry: must be an object");
  const r = retry as NonNullable<TokenSourceOptions["retry"]>;
  const attempts = numberIn("retry.attempts", r.attempts, 3, (n) => Number.isInteger(n) && n >= 1, "an integer of at least 1");
  const baseDelayMs = numberIn("retry.baseDelayMs", r.baseDelayMs, 200, (n) => n >= 0, "a number of milliseconds, at least 0");
  const maxDelayMs = numberIn("retry.maxDelayMs", r.maxDelayMs, Math.max(5000, baseDelayMs), (n) => n >= baseDelayMs, "at least retry.baseDelayMs");
  const config: TokenRequestConfig = {
    clientId: nonEmpty("clientId", options.clientId),
    clientSecret: nonEmpty("clientSecret", options.clientSecret),
    scope: spaceList("scope", options.scope),
    audience: spaceList("audience", options.audience),
    authMethod,
    attempts,
    baseDelayMs,
    maxDelayMs,
    timeoutMs: numberIn("timeoutMs", options.timeoutMs, 10_000, (n) => n > 0, "a positive number of milliseconds"),
    fetch: fn("fetch", options.fetch, (input: string | URL | Request, init?: RequestInit) => fetch(input, init)),
    clock: fn("clock", options.clock, Date.now),
    sleep: fn("sleep", options.sleep, timerSleep),
  };
  const refreshRatio = numberIn("refreshRatio", options.refreshRatio, 0.8, (n) => n > 0 && n <= 1, "a number in (0, 1]");
  return { config, ...(tokenUrl === undefined ? {} : { tokenUrl }), ...(issuer === undefined ? {} : { issuer }), refreshRatio };
}

/**
 * createTokenSource returns a TokenSource. A cached token is used until `refreshRatio` of its
 * lifetime (RFC 6749 §5.1 `expires_in`) has passed; from then until it expires it is still handed
 * out at once while one background refresh runs, and kept if that refresh fails (the next try waits
 * retry.maxDelayMs). Without a live token, callers wait on the one in-flight request, which retries
 * transient failures; a rejected request throws TokenRequestError. Usable without Connect.
 */
export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const { config, tokenUrl, issuer, refreshRatio } = configure(options);
  let endpoint: Promise<string> | undefined = tokenUrl === undefined ? undefined : Promise.resolve(tokenUrl);
  let cached: CachedToken | undefined;
  let inflight: Promise<string> | undefined;

  function tokenEndpoint(): Promise<string> {
    if (endpoint === undefined) {
      // Discovered lazily, once; a failed lookup is forgotten so the next request tries again.
      endpoint = discoverTokenEndpoint(config, issuer as string);
      endpoint.catch(() => (endpoint = undefined));
    }
    return endpoint;
  }

  function store(t: IssuedToken): string {
    cached = { token: t.accessToken, refreshAt: t.obtainedAt + t.lifetimeMs * refreshRatio, expiresAt: t.obtainedAt + t.lifetimeMs };
    return t.accessToken;
  }

  function fetchToken(): Promise<string> {
    if (inflight === undefined) {
      const current = (inflight = tokenEndpoint()
        .then((url) => requestToken(config, url))
        .then(store)
        .finally(() => {
          if (inflight === current) inflight = undefined;
        }));
    }
    return inflight;
  }

  return {
    getToken() {
      const now = config.clock();
      if (cached !== undefined && now < cached.expiresAt) {
        if (now >= cached.refreshAt && inflight === undefined) {
          const stale = cached;
          fetchToken().catch(() => {
            // Keep the token we have until it expires; try again a little later, not on every call.
            if (cached === stale) stale.refreshAt = config.clock() + config.maxDelayMs;
          });
        }
        return Promise.resolve(cached.token);
      }
      cached = undefined;
      return fetchToken();
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
    },
  };
}
