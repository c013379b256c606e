import type { HandlerContext } from "@connectrpc/connect";
import type { Caller } from "../clients/caller.js";
import { getAuthClaims } from "../interceptor/index.js";

/** callerOf reads the caller from the claims the auth interceptor verified for this call. */
export function callerOf(context: HandlerContext): Caller {
  const claims = getAuthClaims(context);
  const oid = claims["oid"];
  return { organizationId: typeof oid === "string" && oid !== "" ? oid : undefined, scopes: claims.scopes, clientId: claims.client_id };
}
