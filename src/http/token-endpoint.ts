import { createHash } from "node:crypto";
import { InvalidClientError, InvalidRequestError } from "../errors.js";
import { clientIdPattern, generatedAdminIdPattern, generatedClientIdPattern } from "../rules.js";
import { clientAssertionOf } from "../tokens/client-assertion.js";
import type { TokenService } from "../tokens/token-service.js";
import { mediaType, readBody, sendJson, type HttpRequest, type HttpResponse } from "./exchange.js";
import { toOAuthError } from "./http-errors.js";

/** TokenEndpointLog receives the outcome of a token request: never its credentials. */
export type TokenEndpointLog = (outcome: { status: number; ms: number; error?: string; clientId?: string; cause?: unknown }) => void;

// RFC 6749 §5.1: token responses must not be cached.
const noStore = { "cache-control": "no-store", pragma: "no-cache" };

interface Credentials {
  clientId: string;
  clientSecret: string;
  basic: boolean;
  /** clientAssertion is set when the client authenticates by RFC 7523 assertion (no secret then). */
  clientAssertion?: string;
}

// Only ids of our own formats are logged as sent: anything else in `client_id` may be a secret
// pasted the wrong way round (a 64-hex admin secret looks like an id), so it is logged as a short
// hash, enough for an operator to correlate lines without learning the value.
function loggableId(clientId: string, adminClientId: string | undefined): string {
  const ours = clientIdPattern.test(clientId) && (generatedClientIdPattern.test(clientId) || generatedAdminIdPattern.test(clientId));
  if (ours || clientId === adminClientId) return clientId;
  return `sha256:${createHash("sha256").update(clientId).digest("hex").slice(0, 12)}`;
}

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

function singleParams(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body.toString("utf8"))) {
    // RFC 6749 §3.2: a parameter without a value is treated as omitted.
    if (value === "") continue;
    // RFC 6749 §3.2: parameters must not be included more than once.
    if (params.has(name)) throw new InvalidRequestError(`parameter ${name} is repeated`);
    params.set(name, value);
  }
  return params;
}

function credentials(req: HttpRequest, params: Map<string, string>): Credentials {
  const header = req.headers.authorization;
  const bodyId = params.get("client_id");
  const bodySecret = params.get("client_secret");
  const assertion = clientAssertionOf(params.get("client_assertion_type"), params.get("client_assertion"), header !== undefined || bodySecret !== undefined);
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

/**
 * createTokenEndpoint returns the `POST /oauth/token` handler (RFC 6749 §4.4, errors per §5.2);
 * `adminClientId` is the configured admin's id (M2M_ADMIN_CLIENT_ID), logged as it is.
 */
export function createTokenEndpoint(
  tokens: TokenService,
  log: TokenEndpointLog,
  adminClientId?: string,
): (req: HttpRequest, res: HttpResponse) => Promise<void> {
  return async (req, res) => {
    const start = performance.now();
    const ms = () => Math.round(performance.now() - start);
    // RFC 6749 §5.2: a client that tried the Authorization header gets a 401 with a challenge.
    let challenge = req.headers.authorization !== undefined;
    let clientId: string | undefined;
    try {
      if (req.method !== "POST") {
        sendJson(res, 405, { error: "invalid_request", error_description: "use POST" }, { ...noStore, allow: "POST" });
        log({ status: 405, ms: ms(), error: "invalid_request" });
        return;
      }
      if (mediaType(req) !== "application/x-www-form-urlencoded") {
        throw new InvalidRequestError("content type must be application/x-www-form-urlencoded");
      }
      const params = singleParams(await readBody(req));
      const creds = credentials(req, params);
      challenge = creds.basic;
      clientId = loggableId(creds.clientId, adminClientId);
      const audience = params.get("audience");
      const response = await tokens.issue({
        grantType: params.get("grant_type") ?? "",
        clientId: creds.clientId,
        clientSecret: creds.clientSecret,
        clientAssertion: creds.clientAssertion,
        scope: params.get("scope") ?? "",
        audience: audience === undefined ? [] : audience.split(" ").filter((a) => a !== ""),
      });
      sendJson(res, 200, response, noStore);
      log({ status: 200, ms: ms(), clientId });
    } catch (err) {
      const { status, body, retryable } = toOAuthError(err);
      const headers: Record<string, string> = { ...noStore };
      if (status === 401 && challenge) headers["www-authenticate"] = 'Basic realm="m2m-auth", charset="UTF-8"';
      if (retryable) headers["retry-after"] = "1";
      sendJson(res, status, body, headers);
      log({ status, ms: ms(), error: body.error, ...(clientId === undefined ? {} : { clientId }), ...(status >= 500 ? { cause: err } : {}) });
    }
  };
}
