// The management API's second look at its caller: the token says who called and what it was
// granted when issued; the store says whether that client still exists and what it holds now.
import { Code, type Interceptor } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { authContextKey, bearerChallenge, insufficientScope, refusedBeforeHandler } from "../interceptor/auth-interceptor.js";
import { createRequiredScopes, grantsAll, procedureOf } from "../interceptor/scopes.js";
import type { ClientStore } from "../store/client-store.js";
import { callerKey } from "./caller.js";

/** CallerCheckOptions configures createCallerCheck. */
export interface CallerCheckOptions {
  /** clients is the store itself, never the token path's record cache: a deletion counts at once. */
  clients: Pick<ClientStore, "get">;
  /** systemClients are the issuer's own clients (the environment's admin), kept outside the store and current. */
  systemClients: ReadonlyMap<string, ClientRecord>;
  /** publicMethods are the procedure paths that need no token, which this check lets through. */
  publicMethods: readonly string[];
}

const unavailable = "the service is temporarily unavailable, retry later";

// RFC 6750 §3.1: a token whose client is gone, or moved, no longer authenticates anyone.
function clientGone(): never {
  const message = "the token's client no longer exists";
  throw refusedBeforeHandler(message, Code.Unauthenticated, { "www-authenticate": bearerChallenge({ error: "invalid_token", error_description: message }) });
}

/**
 * createCallerCheck returns the interceptor that runs after the auth interceptor on every
 * non-public method: it re-reads the calling client (one store read; the environment's admin from
 * `systemClients`, no read) and refuses UNAUTHENTICATED when the client is gone or its
 * organization is not the token's `oid`, PERMISSION_DENIED when it no longer holds a scope the
 * method requires, UNAVAILABLE (retryable) when the store cannot answer. Every refusal comes
 * before the handler and says so, like the auth interceptor's. Handlers get the Caller under
 * callerKey with the token's scopes that the client still holds: a removed admin loses its power
 * at once, not at `exp`, and can no longer grant what it lost.
 */
export function createCallerCheck(options: CallerCheckOptions): Interceptor {
  const { clients, systemClients } = options;
  const publicMethods = new Set(options.publicMethods);
  const required = createRequiredScopes();
  const isPublic = new WeakMap<DescMethod, boolean>();
  return (next) => async (req) => {
    let open = isPublic.get(req.method);
    if (open === undefined) isPublic.set(req.method, (open = publicMethods.has(procedureOf(req.method))));
    if (open) return next(req);
    const claims = req.contextValues.get(authContextKey);
    // The auth interceptor runs first: no claims here means it is missing, and nothing is allowed.
    if (claims === undefined)
      throw refusedBeforeHandler("no verified access token for this call", Code.Unauthenticated, { "www-authenticate": bearerChallenge() });
    let record = systemClients.get(claims.client_id);
    if (record === undefined) {
      try {
        record = await clients.get(claims.client_id);
      } catch (err) {
        // Fail closed, fast (the store's own deadline), and retryable: the handler never ran.
        throw refusedBeforeHandler(unavailable, Code.Unavailable, {}, err);
      }
    }
    const client = record?.client;
    if (client === undefined || client.organizationId !== (claims.oid ?? "")) clientGone();
    const held = claims.scopes.filter((scope) => client.scopes.includes(scope));
    const needed = required.forMethod(req.method);
    if (!grantsAll(needed, held)) throw insufficientScope(needed, held);
    req.contextValues.set(callerKey, { organizationId: claims.oid, scopes: held, clientId: claims.client_id });
    return next(req);
  };
}
