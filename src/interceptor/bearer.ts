// RFC 6750 bearer token syntax: reading the Authorization header, writing WWW-Authenticate.

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"="; the scheme name is case-insensitive (RFC 9110 §11.1).
const b64token = /^[A-Za-z0-9\-._~+/]+=*$/;
const scheme = "bearer";

/**
 * parseBearerToken returns the token of an `Authorization: Bearer <token>` header value, or
 * undefined when the value is not exactly one bearer credential. It runs on every call, so it
 * compares character codes instead of building a match array.
 */
export function parseBearerToken(authorization: string): string | undefined {
  let at = scheme.length;
  if (authorization.length <= at + 1) return undefined;
  // `| 0x20` lower-cases an ASCII letter; no other character maps onto a letter of "bearer".
  for (let i = 0; i < at; i++) if ((authorization.charCodeAt(i) | 0x20) !== scheme.charCodeAt(i)) return undefined;
  if (authorization.charCodeAt(at) !== 0x20) return undefined;
  while (authorization.charCodeAt(at) === 0x20) at++;
  const token = authorization.slice(at);
  return b64token.test(token) ? token : undefined;
}

// RFC 6750 §3: error, error_description and scope values use %x20-21 / %x23-5B / %x5D-7E only.
const unsafe = /[^\x20\x21\x23-\x5B\x5D-\x7E]/g;

/** BearerChallengeParams are the RFC 6750 §3 auth-params of a WWW-Authenticate challenge. */
export interface BearerChallengeParams {
  /** error is an RFC 6750 §3.1 code: invalid_request, invalid_token or insufficient_scope. */
  error?: "invalid_request" | "invalid_token" | "insufficient_scope";
  error_description?: string;
  /** scope is the space-delimited scope the resource needs (RFC 6750 §3). */
  scope?: string;
}

/** bearerChallenge returns a `WWW-Authenticate` value, e.g. `Bearer error="invalid_token", error_description="token expired"`. */
export function bearerChallenge(params: BearerChallengeParams = {}): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${String(v).replace(unsafe, "")}"`);
  return parts.length === 0 ? "Bearer" : `Bearer ${parts.join(", ")}`;
}
