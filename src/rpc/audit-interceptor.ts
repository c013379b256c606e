// Who changed what through the management API, and who was turned away: one audit event per
// audited call, seen from outside the error mapping, so its code is the one the caller got.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import type { AuditLog, AuditOutcome, AuditTarget } from "../audit.js";
import { authContextKey } from "../interceptor/auth-interceptor.js";
import { createRequiredScopes, procedureOf } from "../interceptor/scopes.js";
import { requestOriginKey } from "./request-origin.js";

/** AuditInterceptorOptions configures createAuditInterceptor. */
export interface AuditInterceptorOptions {
  audit: AuditLog;
  /** publicMethods are the procedure paths that need no token: the token path, health, reflection; never audited here. */
  publicMethods: readonly string[];
}

// The caller was turned away rather than its request failing: not authenticated, not allowed, throttled.
const refusals: ReadonlySet<Code> = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.ResourceExhausted]);

/** auditCodeOf is an audit event's `code` for a Connect code: gRPC's canonical name in snake case (`permission_denied`). */
export function auditCodeOf(code: Code): string {
  return Code[code].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toLowerCase();
}

type Fields = Record<string, unknown>;

function text(message: Fields | undefined, name: string): string | undefined {
  const value = message?.[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function nested(message: Fields | undefined, name: string): Fields | undefined {
  const value = message?.[name];
  return typeof value === "object" && value !== null ? (value as Fields) : undefined;
}

/**
 * targetOf names what a call acted on, read by field name so any management service's messages
 * fit: the request's `organization_id`, `client_id`, `secret_id` and a resource server's `id`;
 * for what a call made, the response's new client (and the one secret a new client comes with),
 * new secret, new resource server, or new signing key. Ids only: never a field that holds a secret.
 */
export function targetOf(method: DescMethod, request: unknown, response: unknown): AuditTarget | undefined {
  const req = request as Fields;
  const res = response as Fields | undefined;
  const client = nested(res, "client");
  const secrets = client?.["secrets"];
  const resourceServers = method.parent.typeName.endsWith(".ResourceServerService");
  const target: AuditTarget = {
    organizationId: text(req, "organizationId") ?? text(client, "organizationId"),
    clientId: text(req, "clientId") ?? text(client, "clientId"),
    // A new client comes with one secret; any other answer's client lists secrets it did not make.
    secretId:
      text(req, "secretId") ??
      text(nested(res, "secret"), "id") ??
      (text(req, "clientId") === undefined && Array.isArray(secrets) && secrets.length === 1 ? text(secrets[0] as Fields, "id") : undefined),
    resourceServerId: resourceServers ? (text(req, "id") ?? text(nested(req, "resourceServer"), "id") ?? text(nested(res, "resourceServer"), "id")) : undefined,
    keyId: text(nested(res, "key"), "kid"),
  };
  return Object.values(target).some((v) => v !== undefined) ? target : undefined;
}

/**
 * createAuditInterceptor returns the interceptor, outermost but for logging, that records through
 * `audit` every management write (a method whose required scope ends in `:write`) whatever its
 * outcome, and every refused management call, reads included: UNAUTHENTICATED, PERMISSION_DENIED
 * or RESOURCE_EXHAUSTED, from the auth interceptor, the caller check or a handler. The actor is the
 * verified token's client and organization (none when no token verified); the request id and
 * source address come from the request origin. Installed on the RPC adapter and on the in-process
 * transport REST uses, each call passes one of them once.
 */
export function createAuditInterceptor(options: AuditInterceptorOptions): Interceptor {
  const { audit } = options;
  const publicMethods = new Set(options.publicMethods);
  const required = createRequiredScopes();
  const kinds = new WeakMap<DescMethod, "public" | "write" | "read">();
  function kindOf(method: DescMethod): "public" | "write" | "read" {
    let kind = kinds.get(method);
    if (kind === undefined) {
      kind = publicMethods.has(procedureOf(method)) ? "public" : required.forMethod(method).some((s) => s.endsWith(":write")) ? "write" : "read";
      kinds.set(method, kind);
    }
    return kind;
  }
  return (next) => async (req) => {
    const kind = kindOf(req.method);
    // Management RPCs are unary; a stream is health's or reflection's, both public.
    if (kind === "public" || req.stream) return next(req);
    const record = (outcome: AuditOutcome, response: unknown, error?: ConnectError) => {
      const claims = req.contextValues.get(authContextKey);
      const origin = req.contextValues.get(requestOriginKey);
      audit.record({
        action: req.method.name,
        outcome,
        actor: claims === undefined ? {} : { clientId: claims.client_id, organizationId: claims.oid },
        target: targetOf(req.method, req.message, response),
        code: error === undefined ? undefined : auditCodeOf(error.code),
        reason: error?.rawMessage.slice(0, 200),
        requestId: origin.requestId,
        sourceAddress: origin.sourceAddress,
      });
    };
    try {
      const res = await next(req);
      if (kind === "write") record("success", res.stream ? undefined : res.message);
      return res;
    } catch (err) {
      const error = ConnectError.from(err);
      const refused = refusals.has(error.code);
      if (kind === "write" || refused) record(refused ? "refused" : "failure", undefined, error);
      throw err;
    }
  };
}
