// The client-side Connect interceptor that authenticates every call with a client-credentials
// access token (RFC 6749 §4.4) sent as `Authorization: Bearer` (RFC 6750 §2.1).
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { TokenRequestError } from "./token-source-request.js";
import { createTokenSource, type TokenSource, type TokenSourceOptions } from "./token-source.js";

/** ClientCredentialsInterceptorOptions configures createClientCredentialsInterceptor: a token source's options, or a source to share. */
export type ClientCredentialsInterceptorOptions = TokenSourceOptions | { tokenSource: TokenSource };

function acquisitionFailure(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof TokenRequestError) {
    // A rejected client (invalid_client, invalid_scope, ...) will not get better by retrying the call.
    const code = err.retryable ? Code.Unavailable : Code.Unauthenticated;
    return new ConnectError(`cannot get an access token: ${err.message}`, code, undefined, undefined, err);
  }
  return new ConnectError("cannot get an access token", Code.Unavailable, undefined, undefined, err);
}

/** tokenFor waits for a token, but no longer than the call itself may run. */
async function tokenFor(source: TokenSource, signal: AbortSignal): Promise<string> {
  try {
    if (signal.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
    return await new Promise<string>((resolve, reject) => {
      const onAbort = () => reject(ConnectError.from(signal.reason, Code.Canceled));
      signal.addEventListener("abort", onAbort, { once: true });
      source.getToken().then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  } catch (err) {
    throw acquisitionFailure(err);
  }
}

/**
 * createClientCredentialsInterceptor returns a client interceptor that sets `authorization: Bearer
 * <token>` on every request that has no authorization header yet. When a unary call fails with
 * Code.Unauthenticated, the token is invalidated and the call is sent once more with a fresh one
 * (the server refused it before running the handler, and a unary request message can be re-sent).
 * A streaming call is not retried, since its request messages may already be consumed; its token
 * is still invalidated. Failing to get a token throws Code.Unauthenticated when the token endpoint
 * refused the client, Code.Unavailable when the failure is transient; the cause is kept.
 */
export function createClientCredentialsInterceptor(options: ClientCredentialsInterceptorOptions): Interceptor {
  if (typeof options !== "object" || options === null) throw new TypeError("options: must be an object");
  let source: TokenSource;
  if ("tokenSource" in options) {
    const given = options.tokenSource as Partial<TokenSource> | undefined;
    if (typeof given?.getToken !== "function" || typeof given.invalidate !== "function") {
      throw new TypeError("tokenSource: must have getToken and invalidate");
    }
    source = given as TokenSource;
  } else {
    source = createTokenSource(options);
  }

  return (next) => async (req) => {
    if (req.header.has("authorization")) return next(req);
    const token = await tokenFor(source, req.signal);
    req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      if (ConnectError.from(err).code !== Code.Unauthenticated) throw err;
      source.invalidate(token);
      if (req.stream) throw err;
      req.header.set("authorization", `Bearer ${await tokenFor(source, req.signal)}`);
      return next(req);
    }
  };
}
