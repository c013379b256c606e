import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Caller } from "../clients/caller.js";

/**
 * callerKey holds the caller of a management call as the caller check (caller-check.ts) found it
 * in the store: the token's scopes that the client still holds. Unset on a public method.
 */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "m2m-auth re-checked caller" });

/**
 * callerOf returns the caller the caller check re-read for this call. Without one it refuses
 * (fail closed): a handler never acts on a token's claims alone, which may be hours old.
 */
export function callerOf(context: Pick<HandlerContext, "values">): Caller {
  const caller = context.values.get(callerKey);
  if (caller === undefined) throw new ConnectError("no re-checked caller for this call", Code.Unauthenticated);
  return caller;
}
