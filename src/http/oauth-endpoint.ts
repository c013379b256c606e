import type { Logger } from "pino";
import { InvalidClientError, InvalidRequestError } from "../errors.js";
import { loggableId } from "../tokens/authenticate.js";
import { clientAssertionOf } from "../tokens/client-assertion.js";
import { mediaType, readBody, sendJson, type HttpRequest } from "./exchange.js";
import type { RequestOrigin } from "../rpc/request-origin.js";
import type { OAuthRoute } from "./http-handler.js";
import { toOAuthError } from "./http-errors.js";

// What the OAuth endpoints (/oauth/token, /oauth/introspect, /oauth/revoke) share: the form body,
// the client's credentials (RFC 6749 §2.3, read by one function for all three), and the frame
// that answers errors as RFC 6749 §5.2 says, with a challenge after a failed Basic login.

/** OAuthEndpointLog receives the outcome of an OAuth endpoint request: never its credentials. */
export type OAuthEndpointLog = (outcome: { status: number; ms: number; error?: string; clientId?: string; cause?: unknown; grant?: string }) => void;

/**
 * oauthEndpointLog writes an OAuth endpoint's outcomes: a 5xx at `error` with its cause, the rest at
 * `info`, except, with `successAtDebug`, a 200: a line per issued token would cost more than the
 * token's HMAC (a JSON serialization and a write per request), so the token endpoint logs those at `debug`.
 */
export function oauthEndpointLog(logger: Pick<Logger, "error" | "info" | "debug">, route: string, successAtDebug = false): OAuthEndpointLog {
  // The grant is for metrics (src/telemetry), which bound it; the line keeps its fields.
  return ({ cause, grant: _grant, ...line }) => {
    if (line.status >= 500) logger.error({ route, ...line, err: cause }, "http");
    else if (successAtDebug && line.status === 200) logger.debug({ route, ...line }, "http");
    else logger.info({ route, ...line }, "http");
  };
}

/** ClientCredentials are what a request presented to authenticate its client. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  /** basic is true when they came in the Authorization header (client_secret_basic). */
  basic: boolean;
  /** clientAssertion is an RFC 7523 private_key_jwt assertion, presented instead of a secret (clientSecret then empty). */
  clientAssertion?: string | undefined;
}

/** OAuthForm is an `application/x-www-form-urlencoded` body, each parameter at most once unless declared repeatable. */
export interface OAuthForm {
  /** get returns the parameter's value; undefined when absent or empty (RFC 6749 §3.2). */
  get(name: string): string | undefined;
  /** all returns every value of a repeatable parameter, in order. */
  all(name: string): readonly string[];
}

// RFC 6749 §5.1, RFC 7662 §2.2: token responses (and token metadata) must not be cached.

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw new InvalidClientError("malformed Basic credentials");
  }
}

function basicCredentials(header: string): { clientId: string; clientSecret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match?.[1]) throw new InvalidClientError("malformed Basic credentials");
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new InvalidClientError("malformed Basic credentials");
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
  return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
}

/** readOAuthForm reads a form body; a parameter other than `repeatable` ones sent twice is `invalid_request` (RFC 6749 §3.2). */
export async function readOAuthForm(req: HttpRequest, repeatable: readonly string[] = []): Promise<OAuthForm> {
  if (mediaType(req) !== "application/x-www-form-urlencoded") throw new InvalidRequestError("content type must be application/x-www-form-urlencoded");
  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams((await readBody(req)).toString("utf8"))) {
    // RFC 6749 §3.2: a parameter without a value is treated as omitted.
    if (value === "") continue;
    const values = params.get(name);
    if (values === undefined) params.set(name, [value]);
    else if (repeatable.includes(name)) values.push(value);
    else throw new InvalidRequestError(`parameter ${name} is repeated`);
  }
  return { get: (name) => params.get(name)?.[0], all: (name) => params.get(name) ?? [] };
}

/**
 * readClientCredentials finds exactly one client authentication method in the request
 * (RFC 6749 §2.3): the Authorization header (client_secret_basic) or `client_id` and
 * `client_secret` in the form (client_secret_post), or an RFC 7523 client assertion in the form
 * (private_key_jwt). The one place every OAuth endpoint reads them.
 */
export function readClientCredentials(req: HttpRequest, form: OAuthForm): ClientCredentials {
  const header = req.headers.authorization;
  const bodyId = form.get("client_id");
  const bodySecret = form.get("client_secret");
  // RFC 7523 §2.2: an assertion is a method of its own, never beside a secret.
  const assertion = clientAssertionOf(form.get("client_assertion_type"), form.get("client_assertion"), header !== undefined || bodySecret !== undefined);
  if (assertion !== undefined) return { clientId: bodyId ?? "", clientSecret: "", basic: false, clientAssertion: assertion };
  if (header !== undefined) {
    if (!/^Basic /i.test(header)) throw new InvalidClientError("unsupported client authentication method");
    // RFC 6749 §2.3: a client must not use more than one authentication method per request.
    if (bodySecret !== undefined) throw new InvalidRequestError("use exactly one client authentication method: Basic or client_secret, not both");
    const basic = basicCredentials(header);
    if (bodyId !== undefined && bodyId !== basic.clientId) throw new InvalidRequestError("client_id does not match the Basic credentials");
    return { ...basic, basic: true };
  }
  if (bodyId === undefined || bodySecret === undefined) throw new InvalidClientError("client authentication is required");
  return { clientId: bodyId, clientSecret: bodySecret, basic: false };
}

/** OAuthEndpointOptions configures createOAuthEndpoint. */
export interface OAuthEndpointOptions {
  log: OAuthEndpointLog;
  /** adminClientId is the configured admin's id (M2M_ADMIN_CLIENT_ID), logged as it is. */
  adminClientId?: string | undefined;
  /** repeatable names the form parameters that may be sent more than once (RFC 8707 `resource`). */
  repeatable?: readonly string[];
  /** handle answers an authenticated-looking request: the credentials are read (with the request's origin), not yet checked. */
  handle: (form: OAuthForm, credentials: ClientCredentials, origin: RequestOrigin) => Promise<unknown>;
}

/**
 * createOAuthEndpoint returns a `POST` form endpoint that reads the client's credentials and
 * answers `handle`'s result (undefined: 200 with no body) or its error as RFC 6749 §5.2 JSON:
 * `invalid_client` is 401, with `WWW-Authenticate` when the client tried Basic.
 */
export function createOAuthEndpoint(options: OAuthEndpointOptions): OAuthRoute {
  const { log, adminClientId, handle } = options;
  return async (req, res, origin) => {
    const start = performance.now();
    const ms = () => Math.round(performance.now() - start);
    // Every answer names its request, and may hold a token or a client's data: no cache keeps it
    // (RFC 6749 §5.1). Given with the answer's own headers, not set beforehand, which node merges
    // at a cost the token path would see.
    const named = { "cache-control": "no-store", pragma: "no-cache", "x-request-id": origin.requestId };
    // RFC 6749 §5.2: a client that tried the Authorization header gets a 401 with a challenge.
    let challenge = req.headers.authorization !== undefined;
    let clientId: string | undefined;
    let grant: string | undefined;
    try {
      if (req.method !== "POST") {
        sendJson(res, 405, { error: "invalid_request", error_description: "use POST" }, { ...named, allow: "POST" });
        log({ status: 405, ms: ms(), error: "invalid_request" });
        return;
      }
      const form = await readOAuthForm(req, options.repeatable);
      grant = form.get("grant_type");
      const credentials = readClientCredentials(req, form);
      challenge = credentials.basic;
      clientId = loggableId(credentials.clientId, adminClientId);
      const body = await handle(form, credentials, origin);
      if (body === undefined) {
        res.writeHead(200, { ...named, "content-length": "0" });
        res.end();
      } else {
        sendJson(res, 200, body, named);
      }
      log({ status: 200, ms: ms(), clientId, grant });
    } catch (err) {
      const { status, body, retryAfter } = toOAuthError(err);
      const headers: Record<string, string> = { ...named };
      if (status === 401 && challenge) headers["www-authenticate"] = 'Basic realm="m2m-auth", charset="UTF-8"';
      if (retryAfter !== undefined) headers["retry-after"] = retryAfter;
      sendJson(res, status, body, headers);
      log({ status, ms: ms(), error: body.error, grant, ...(clientId === undefined ? {} : { clientId }), ...(status >= 500 ? { cause: err } : {}) });
    }
  };
}
