// The client-side Connect interceptor that authenticates every call with a client-credentials
// access token (RFC 6749 §4.4) sent as `Authorization: Bearer` (RFC 6750 §2.1).
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { isRefusedBeforeHandler, saysInvalidToken } from "./auth-interceptor.js";
import { TokenRequestError } from "./token-request.js";
import { createTokenSource, type TokenSource, type TokenSourceOptions } from "./token-source.js";

/**
 * ClientRetryOptions says when a call refused for its token is re-sent once with a fresh token;
 * `false` never re-sends one.
 */
export type ClientRetryOptions =
  | false
  | {
      /**
       * idempotentOnly re-sends only methods declared idempotent (`idempotency_level` NO_SIDE_EFFECTS
       * or IDEMPOTENT), ignoring the auth interceptor's before-handler marker; default false.
       */
      idempotentOnly?: boolean;
    };

/** ClientCredentialsInterceptorOptions configures createClientCredentialsInterceptor: a token source's options (whose `retry` is the token request's), or a source to share; and `retryOnInvalidToken`. */
export type ClientCredentialsInterceptorOptions = (TokenSourceOptions | { tokenSource: TokenSource }) & {
  /** retryOnInvalidToken governs re-sending a call refused for its token; default `{ idempotentOnly: false }`. */
  retryOnInvalidToken?: ClientRetryOptions;
};

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
      source
        .getToken()
        .then(resolve, reject)
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  } catch (err) {
    throw acquisitionFailure(err);
  }
}

// Tokens a server has accepted lately: a token that worked and is now refused has gone stale, and
// a fresh one may help; one refused from its first use is refused for some other reason (a wrong
// audience, say), and fetching another would only repeat the refusal. The token source hands out
// one token at a time, so a few entries cover the overlap of a refresh.
const acceptedKept = 4;

function checkRetry(retry: unknown): { enabled: boolean; idempotentOnly: boolean } {
  if (retry === undefined) return { enabled: true, idempotentOnly: false };
  if (retry === false) return { enabled: false, idempotentOnly: false };
  const idempotentOnly: unknown = typeof retry === "object" && retry !== null ? (retry as { idempotentOnly?: unknown }).idempotentOnly : null;
  if (idempotentOnly !== undefined && typeof idempotentOnly !== "boolean") {
    throw new TypeError("retryOnInvalidToken: must be false or { idempotentOnly?: boolean }");
  }
  return { enabled: true, idempotentOnly: idempotentOnly === true };
}

// A method the schema declares free of side effects, or idempotent, may be sent twice safely.
function isIdempotent(req: UnaryRequest | StreamRequest): boolean {
  const level = req.method.idempotency;
  return level === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS || level === MethodOptions_IdempotencyLevel.IDEMPOTENT;
}

// RFC 6750 §3.1: the server says the token itself is bad (expired, revoked, unknown key, ...).
function refusesToken(err: unknown): boolean {
  const refused = ConnectError.from(err);
  return refused.code === Code.Unauthenticated && saysInvalidToken(refused.metadata);
}

/**
 * createClientCredentialsInterceptor returns a client interceptor that sets `authorization: Bearer
 * <token>` on every request that has no authorization header yet. A refusal that says the token is
 * bad (Code.Unauthenticated with `WWW-Authenticate: Bearer error="invalid_token"`, RFC 6750 §3.1)
 * drops the token, so the next call gets a fresh one. The refused call itself is re-sent once, with
 * a fresh token, only when all of these hold: `retryOnInvalidToken` is not false; the refused token had been
 * accepted on an earlier call (it went stale; a token refused from its first use is not retried, so
 * a server that keeps refusing costs one token request per call, never a loop); the call is unary
 * (a stream's messages may be consumed); and its method is idempotent, or the refusal carries
 * `m2m-auth-refused: before-handler` (the auth interceptor refused it before the handler ran),
 * unless `retryOnInvalidToken.idempotentOnly`. Failing to get a token throws Code.Unauthenticated when the
 * token endpoint refused the client, Code.Unavailable when the failure is transient; the cause is kept.
 */
export function createClientCredentialsInterceptor(options: ClientCredentialsInterceptorOptions): Interceptor {
  if (typeof options !== "object" || options === null) throw new TypeError("options: must be an object");
  const retry = checkRetry(options.retryOnInvalidToken);
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
  const accepted = new Set<string>();
  function accept(token: string): void {
    if (accepted.has(token)) return;
    accepted.add(token);
    if (accepted.size > acceptedKept) accepted.delete(accepted.values().next().value as string);
  }

  return (next) => async (req) => {
    if (req.header.has("authorization")) return next(req);
    // Sends the call with `token`; a refusal that says the token is bad drops it from the source.
    async function send(token: string) {
      req.header.set("authorization", `Bearer ${token}`);
      try {
        const res = await next(req);
        accept(token);
        return res;
      } catch (err) {
        if (refusesToken(err)) source.invalidate(token);
        throw err;
      }
    }
    const token = await tokenFor(source, req.signal);
    try {
      return await send(token);
    } catch (err) {
      const resend =
        refusesToken(err) &&
        retry.enabled &&
        accepted.has(token) &&
        !req.stream &&
        (isIdempotent(req) || (!retry.idempotentOnly && isRefusedBeforeHandler(ConnectError.from(err).metadata)));
      if (!resend) throw err;
      const fresh = await tokenFor(source, req.signal);
      if (fresh === token) throw err;
      return send(fresh);
    }
  };
}
