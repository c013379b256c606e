// Where the interceptor leaves the verified claims for handlers.
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { AuthClaims } from "./claims.js";

/** authContextKey holds the verified AuthClaims of the call; undefined on public methods. */
export const authContextKey = createContextKey<AuthClaims | undefined>(undefined, {
  description: "m2m-auth claims",
});

/**
 * getAuthClaims returns the claims the auth interceptor verified for this call; it throws a
 * ConnectError with Code.Unauthenticated when there are none (a public method, or no interceptor).
 */
export function getAuthClaims(context: HandlerContext): AuthClaims {
  const claims = context.values.get(authContextKey);
  if (claims === undefined) throw new ConnectError("no verified access token for this call", Code.Unauthenticated);
  return claims;
}
