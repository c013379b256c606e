// Signing in: a client-credentials token from /oauth/token, held in memory only (never
// localStorage, sessionStorage or a cookie), so closing or reloading the page signs out.

/** Session is who is signed in: the access token and what its claims say about the caller. */
export interface Session {
  token: string;
  clientId: string;
  /** organizationId is the token's `oid`: an organization's own admin; undefined for the environment's admin. */
  organizationId: string | undefined;
  scopes: readonly string[];
  /** expiresAt is the token's `exp`, in milliseconds. */
  expiresAt: number;
}

/** SignInError is a refused sign-in, with the service's own words (RFC 6749 §5.2 error_description). */
export class SignInError extends Error {}

interface TokenAnswer {
  access_token?: string;
  error?: string;
  error_description?: string;
}

/** claimsOf reads a JWT's payload (not verified: the service verifies it on every call; the page only reads it). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/**
 * signIn asks the token endpoint for a token. The credentials go in the form body
 * (client_secret_post, RFC 6749 §2.3.1), not Basic: a refused Basic login is answered with a
 * `WWW-Authenticate: Basic` challenge (§5.2), which makes browsers open their own login dialog.
 */
export async function signIn(clientId: string, clientSecret: string): Promise<Session> {
  const res = await fetch("/oauth/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
    credentials: "omit",
    cache: "no-store",
  });
  const answer = (await res.json().catch(() => ({}))) as TokenAnswer;
  if (!res.ok || typeof answer.access_token !== "string") {
    throw new SignInError(answer.error_description ?? answer.error ?? `the token endpoint answered ${res.status}`);
  }
  const claims = claimsOf(answer.access_token);
  const scope = typeof claims["scope"] === "string" ? claims["scope"] : "";
  return {
    token: answer.access_token,
    clientId: typeof claims["client_id"] === "string" ? claims["client_id"] : clientId,
    organizationId: typeof claims["oid"] === "string" ? claims["oid"] : undefined,
    scopes: scope.split(" ").filter((s) => s !== ""),
    expiresAt: typeof claims["exp"] === "number" ? claims["exp"] * 1000 : Date.now(),
  };
}
