import { AsyncLocalStorage } from "node:async_hooks";
import type { Interceptor } from "@connectrpc/connect";
import { faultCause, isServerFault, toConnectError } from "../rpc/connect-errors.js";
import { requestOriginKey, type RequestOrigin } from "../rpc/request-origin.js";

// An HTTP route's answer is logged once, by the handler, when it is sent. A 5xx line must carry
// its cause, but the cause is found deeper: in the RPC a REST route calls through the in-process
// transport (which sends the error to the route serialized, its cause dropped, as over the
// network), or in the route itself. Each request gets a slot, found through the async context,
// where the first cause found is kept for that line.

/** FaultSlot holds the cause of a request's 5xx, for its log line. */
export interface FaultSlot {
  cause?: unknown;
  /** origin is the request's id and source address, handed to the RPC the route calls (the in-process transport carries no peer). */
  origin?: RequestOrigin;
}

const slots = new AsyncLocalStorage<FaultSlot>();

/** withFaultSlot runs `route` with `slot` as the request's slot for recordFault. */
export function withFaultSlot<T>(slot: FaultSlot, route: () => Promise<T>): Promise<T> {
  return slots.run(slot, route);
}

/** recordFault keeps `cause` as the cause of the current request's 5xx, unless one is kept already. */
export function recordFault(cause: unknown): void {
  const slot = slots.getStore();
  if (slot !== undefined && slot.cause === undefined) slot.cause = cause;
}

/**
 * faultInterceptor is the in-process transport's outermost interceptor: a server fault of an RPC
 * that a REST route calls is recorded, with its cause, for that route's log line (the RPC itself
 * is not logged a second time). It also hands the RPC the request's origin (id, source address).
 */
export const faultInterceptor: Interceptor = (next) => async (req) => {
  const origin = slots.getStore()?.origin;
  if (origin !== undefined) req.contextValues.set(requestOriginKey, origin);
  try {
    return await next(req);
  } catch (err) {
    const error = toConnectError(err);
    if (isServerFault(error.code)) recordFault(faultCause(error));
    throw error;
  }
};
