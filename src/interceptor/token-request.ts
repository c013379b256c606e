// The HTTP side of a token source: the client-credentials token request (RFC 6749 §4.4), the RFC
// 8414 metadata lookup, retries with backoff, and the error a failed request becomes. Both requests
// go through the library's one outbound policy (outbound-fetch.ts). No message built here ever
// holds the client secret or an access token.
import { fetchJson, OutboundFetchError, type OutboundResponse } from "./outbound-fetch.js";

/** TokenRequestError is a failed token or metadata request; its message is safe to log. */
export class TokenRequestError extends Error {
  /** code is the RFC 6749 §5.2 `error`, else "unavailable", "network" or "invalid_response". */
  readonly code: string;
  /** status is the HTTP status of the answer, undefined when none came (network error, timeout). */
  readonly status: number | undefined;
  /** retryable tells whether the same request may succeed later: network, timeout, 408, 429, 5xx. */
  readonly retryable: boolean;
  /** retryAfterMs is the server's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, options: { status?: number; retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TokenRequestError";
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** TokenRequestConfig is the validated configuration the requests run with. */
export interface TokenRequestConfig {
  clientId: string;
  clientSecret: string;
  /** scope and audience are space-delimited; "" sends none. */
  scope: string;
  audience: string;
  authMethod: "client_secret_basic" | "client_secret_post";
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  fetch: typeof fetch;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** IssuedToken is a validated RFC 6749 §5.1 success response. */
export interface IssuedToken {
  accessToken: string;
  /** obtainedAt is the clock reading when the request that got it was sent. */
  obtainedAt: number;
  lifetimeMs: number;
}

/** DEFAULT_EXPIRES_IN_SECONDS is the lifetime assumed when a response omits `expires_in` (RFC 6749 §5.1 only recommends it). */
export const DEFAULT_EXPIRES_IN_SECONDS = 60;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const invalid = (message: string, status?: number): TokenRequestError =>
  new TokenRequestError("invalid_response", message, status === undefined ? {} : { status });

async function send(
  config: TokenRequestConfig,
  what: string,
  url: string,
  init: { method?: "POST"; headers: Record<string, string>; body?: string },
): Promise<OutboundResponse> {
  try {
    return await fetchJson(url, { ...init, what, timeoutMs: config.timeoutMs, fetch: config.fetch });
  } catch (err) {
    if (!(err instanceof OutboundFetchError)) throw err;
    // No answer may come later; an answer that breaks the policy (a redirect, an oversized body) will not.
    if (err.reason === "network" || err.reason === "timeout") throw new TokenRequestError("network", err.message, { retryable: true, cause: err });
    throw new TokenRequestError("invalid_response", err.message, { ...(err.status === undefined ? {} : { status: err.status }), cause: err });
  }
}

function retryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function failure(config: TokenRequestConfig, what: string, res: OutboundResponse): TokenRequestError {
  const { status, body } = res;
  const retryable = status === 408 || status === 429 || status >= 500;
  // RFC 6749 §5.2: `error` is one ASCII word; anything else is not an OAuth error response.
  const error = isObject(body) && typeof body["error"] === "string" && /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(body["error"]) ? body["error"] : undefined;
  const code = error ?? (retryable ? "unavailable" : "invalid_response");
  let description = isObject(body) && typeof body["error_description"] === "string" ? body["error_description"] : "";
  description = description.split(config.clientSecret).join("[redacted]").slice(0, 200);
  const message = `${what} failed: HTTP ${status} ${code}${description === "" ? "" : `: ${description}`}`;
  const after = retryable ? retryAfter(res.headers.get("retry-after"), config.clock()) : undefined;
  return new TokenRequestError(code, message, { status, retryable, ...(after === undefined ? {} : { retryAfterMs: after }) });
}

/** withRetries runs `attempt` up to config.attempts times while it fails retryably, with exponential backoff and jitter. */
export async function withRetries<T>(config: TokenRequestConfig, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof TokenRequestError) || !err.retryable || n >= config.attempts) throw err;
      // Equal jitter: half the exponential step, plus up to as much again at random.
      const step = Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** (n - 1));
      let delay = step / 2 + (Math.random() * step) / 2;
      if (err.retryAfterMs !== undefined) {
        // Never sooner than the server asked; if it asks for longer than we may wait, give up now.
        if (err.retryAfterMs > config.maxDelayMs) throw err;
        delay = Math.max(delay, err.retryAfterMs);
      }
      await config.sleep(Math.round(delay));
    }
  }
}

// RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded before they are joined.
const formEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2);

function issued(body: unknown, obtainedAt: number, status: number): IssuedToken {
  if (!isObject(body)) throw invalid("token response is not a JSON object", status);
  const { access_token: token, token_type: type, expires_in: expiresIn } = body;
  // RFC 6750 §2.1: the token goes into an Authorization header, so it must be visible ASCII.
  if (typeof token !== "string" || !/^[\x21-\x7E]+$/.test(token)) throw invalid("token response has no usable access_token", status);
  // RFC 6749 §5.1, §7.1: token_type is case-insensitive; only Bearer (RFC 6750) is understood.
  if (typeof type !== "string" || type.toLowerCase() !== "bearer") throw invalid("token response token_type is not Bearer", status);
  let seconds = DEFAULT_EXPIRES_IN_SECONDS;
  if (expiresIn !== undefined) {
    seconds = typeof expiresIn === "string" && /^\d+$/.test(expiresIn) ? Number(expiresIn) : Number.NaN;
    if (typeof expiresIn === "number") seconds = expiresIn;
    if (!Number.isFinite(seconds) || seconds <= 0) throw invalid("token response expires_in is not a positive number", status);
  }
  return { accessToken: token, obtainedAt, lifetimeMs: seconds * 1000 };
}

/** requestToken asks `endpoint` for a token by client credentials (RFC 6749 §4.4.2), retrying transient failures. */
export function requestToken(config: TokenRequestConfig, endpoint: string): Promise<IssuedToken> {
  return withRetries(config, async () => {
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (config.scope !== "") form.set("scope", config.scope);
    if (config.audience !== "") form.set("audience", config.audience);
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    if (config.authMethod === "client_secret_basic") {
      headers["authorization"] = `Basic ${btoa(`${formEncode(config.clientId)}:${formEncode(config.clientSecret)}`)}`;
    } else {
      form.set("client_id", config.clientId);
      form.set("client_secret", config.clientSecret);
    }
    const obtainedAt = config.clock();
    const res = await send(config, "token request", endpoint, { method: "POST", headers, body: form.toString() });
    if (res.status !== 200) throw failure(config, "token request", res);
    if (res.notJson !== undefined) throw invalid(`token response: ${res.notJson}`, res.status);
    return issued(res.body, obtainedAt, res.status);
  });
}

/** metadataUrls lists where RFC 8414 §3.1 puts the issuer's metadata, then the appended form some servers use. */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, "");
  const appended = `${url.origin}${path}/.well-known/oauth-authorization-server`;
  return path === "" ? [appended] : [`${url.origin}/.well-known/oauth-authorization-server${path}`, appended];
}

/** discoverTokenEndpoint reads `token_endpoint` from the issuer's RFC 8414 metadata, checking its `issuer` (§3.3). */
export function discoverTokenEndpoint(config: TokenRequestConfig, issuer: string): Promise<string> {
  return withRetries(config, async () => {
    const urls = metadataUrls(issuer);
    for (const [i, url] of urls.entries()) {
      const res = await send(config, "metadata request", url, { headers: { accept: "application/json" } });
      if (res.status === 404 && i < urls.length - 1) continue;
      if (res.status !== 200) throw failure(config, "metadata request", res);
      if (res.notJson !== undefined) throw invalid(`authorization server metadata: ${res.notJson}`, res.status);
      const body = res.body;
      if (!isObject(body)) throw invalid("authorization server metadata is not a JSON object", res.status);
      // RFC 8414 §3.3: the metadata's issuer must be identical to the issuer it was looked up for.
      if (body["issuer"] !== issuer) throw invalid("authorization server metadata issuer does not match the configured issuer", res.status);
      const endpoint = body["token_endpoint"];
      if (typeof endpoint !== "string" || !/^https?:$/.test(URL.canParse(endpoint) ? new URL(endpoint).protocol : "")) {
        throw invalid("authorization server metadata has no http(s) token_endpoint", res.status);
      }
      return endpoint;
    }
    throw invalid("authorization server metadata not found");
  });
}
