import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/** RequestOrigin is where a request came from: its id (echoed as `x-request-id`) and the client's address. */
export interface RequestOrigin {
  requestId: string;
  /** sourceAddress is the peer's IP address, or the client's as a trusted proxy forwarded it (M2M_TRUSTED_PROXIES). */
  sourceAddress: string;
}

/** requestOriginKey carries a call's RequestOrigin in its context values: set by the HTTP edge for RPC and REST alike. */
export const requestOriginKey = createContextKey<RequestOrigin>({ requestId: "", sourceAddress: "" }, { description: "m2m-auth request origin" });

/** originOf returns the origin of the call being handled (empty fields when none was set, as in a test's router transport). */
export function originOf(context: Pick<HandlerContext, "values">): RequestOrigin {
  return context.values.get(requestOriginKey);
}
