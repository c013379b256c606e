import type { Interceptor } from "@connectrpc/connect";
import { toConnectError } from "../errors.js";

/**
 * errorInterceptor turns whatever a handler throws into the ConnectError a caller may see, in
 * one place: domain errors keep their code and safe message, anything else becomes a generic
 * `internal` with the original kept only as the cause (for logs).
 */
export const errorInterceptor: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    throw toConnectError(err);
  }
};
