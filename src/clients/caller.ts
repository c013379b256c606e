import { PermissionDeniedError } from "../errors.js";

/** Caller is who makes a management request, as its verified access token says. */
export interface Caller {
  /** organizationId is the token's `oid`: an organization's admin; undefined for the environment's admin. */
  organizationId: string | undefined;
  /** scopes are the scopes the token grants. */
  scopes: readonly string[];
  /** clientId is the token's `client_id`, who calls: a create's request id is the caller's own. */
  clientId?: string | undefined;
}

/** reservedScopePrefix marks the service's own scopes (m2m:clients:*, m2m:keys:*). */
export const reservedScopePrefix = "m2m:";

/**
 * authorizeOrganization lets the environment's admin act on every organization, and an
 * organization's admin on its own only.
 */
export function authorizeOrganization(caller: Caller, organizationId: string): void {
  if (caller.organizationId !== undefined && caller.organizationId !== organizationId) {
    throw new PermissionDeniedError(`this token manages organization ${caller.organizationId} only`);
  }
}

/**
 * checkGrantable refuses to grant a service scope the caller does not hold itself, so no client
 * can mint a client more powerful than it is.
 */
export function checkGrantable(caller: Caller, granted: readonly string[]): void {
  const refused = granted.filter((scope) => scope.startsWith(reservedScopePrefix) && !caller.scopes.includes(scope));
  if (refused.length > 0) throw new PermissionDeniedError(`cannot grant scopes the caller does not hold: ${refused.join(" ")}`);
}

/**
 * checkCanManage refuses to change a client holding service scopes the caller lacks: adding a
 * secret to it, or editing it, would hand the caller powers it was never granted.
 */
export function checkCanManage(caller: Caller, target: { clientId: string; scopes: readonly string[] }): void {
  const beyond = target.scopes.filter((scope) => scope.startsWith(reservedScopePrefix) && !caller.scopes.includes(scope));
  if (beyond.length > 0) {
    throw new PermissionDeniedError(`client ${target.clientId} holds scopes the caller does not: ${beyond.join(" ")}`);
  }
}
