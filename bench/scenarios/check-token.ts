import type { Alg } from "./result.js";

/** TokenRequest is the token request the load repeats. */
export interface TokenRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** basicAuth is the RFC 6749 §2.3.1 client_secret_basic header for `clientId` and `clientSecret`. */
export function basicAuth(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString("base64")}`;
}

/**
 * checkToken sends `request` once and throws unless it answers 200 with a JWT access token signed
 * with `alg`, so no scenario measures error responses or opaque tokens by mistake.
 */
export async function checkToken(request: TokenRequest, alg: Alg): Promise<{ header: object; claims: object }> {
  const res = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${text.slice(0, 300)}`);
  const token = (JSON.parse(text) as { access_token?: string }).access_token ?? "";
  const [header, claims] = token.split(".").map((part) => {
    try {
      return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  });
  if (header === undefined || claims === undefined) throw new Error(`access token is not a JWT: ${token.slice(0, 40)}…`);
  if (header["alg"] !== alg) throw new Error(`access token is signed with ${String(header["alg"])}, not ${alg}`);
  return { header, claims };
}
