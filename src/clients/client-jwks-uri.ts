import { InvalidArgumentError } from "../errors.js";
import { isLoopbackHost } from "../rules.js";

// A client may publish its private_key_jwt keys at a `jwks_uri` (RFC 7591 §2) instead of
// registering them inline. The URL is the tenant's, so the service fetches it only when its origin
// is one the operator listed (M2M_CLIENT_JWKS_ORIGINS): no tenant can point the service at an
// internal address. The same check runs again before every fetch, so removing an origin from the
// list stops its fetches at once.

/** maxJwksUriLength bounds a jwks_uri: ample for a real key URL, small enough to keep in every record. */
export const maxJwksUriLength = 512;

/** jwksUriProblem says why `uri` may not be fetched under `origins`, or undefined when it may. */
export function jwksUriProblem(uri: string, origins: readonly string[]): string | undefined {
  if (origins.length === 0) {
    return "is not accepted on this service: the operator must allow its origin in M2M_CLIENT_JWKS_ORIGINS (or register the keys inline as jwks)";
  }
  if (uri.length > maxJwksUriLength) return `must be at most ${maxJwksUriLength} characters`;
  // The URL parser would drop these silently: what is stored must be what is fetched.
  // eslint-disable-next-line no-control-regex -- finding control characters in client text is the point
  if (/[\s\u0000-\u001F\u007F\uFFFD]/.test(uri)) return "must not contain spaces or control characters";
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "must be an absolute https URL";
  }
  // http only on this host: anywhere else the keys could be swapped on the path.
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) return "must use https";
  // User info would be a credential sent to the key server, a fragment means nothing to a fetch
  // (RFC 7591 §2 calls for a plain URL).
  if (url.username !== "" || url.password !== "") return "must not carry user info";
  if (uri.includes("#")) return "must not have a fragment";
  if (!origins.includes(url.origin)) {
    return `is on ${url.origin}, which the operator has not allowed: the origin must be listed in M2M_CLIENT_JWKS_ORIGINS (${origins.join(", ")})`;
  }
  return undefined;
}

/**
 * validateJwksUri checks a client's jwks_uri against the allowed `origins` and returns it; empty
 * means the client has none. A bad one is an InvalidArgumentError naming `jwks_uri`.
 */
export function validateJwksUri(uri: string | undefined, origins: readonly string[]): string {
  if (uri === undefined || uri === "") return "";
  const problem = jwksUriProblem(uri, origins);
  if (problem !== undefined) throw new InvalidArgumentError("jwks_uri", problem);
  return uri;
}
