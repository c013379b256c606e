import type { ResourceServer } from "../../gen/m2mauth/v1/resource_servers_pb.js";
import { InvalidArgumentError } from "../errors.js";
import type { RegistryLookup } from "../store/resource-server-store.js";
import { reservedScopePrefix, type Caller } from "./caller.js";

// What a client may be granted once APIs are registered (resource-server-service.ts): one check
// for create and update alike, on the client as it will be stored. The management API itself
// (the issuer URL as audience, the `m2m:*` scopes) is never registered: checkGrantable
// (caller.ts) governs it, so whoever may grant those still may.

const registerFirst = "an environment admin must register the API first (POST /api/v1/resource-servers)";

/** GrantedClient is what the rules read of a client: its organization, audiences and scopes. */
export interface GrantedClient {
  organizationId: string;
  audience: readonly string[];
  scopes: readonly string[];
}

/** registryAudiences are the audiences of a client worth looking up: all but the issuer, each once. */
export function registryAudiences(audiences: readonly string[], issuer: string): string[] {
  return [...new Set(audiences.filter((audience) => audience !== issuer))];
}

/**
 * checkRegisteredGrant refuses a client whose grants the registry does not allow: once any API is
 * registered, every audience must be a registered one open to the client's organization, and every
 * scope must be defined by one of its audiences. An organization's admin is held to that even
 * before anything is registered (it could otherwise grant `admin:everything` for any API); the
 * environment's admin with no registry grants as it always did, so the seed's flow is unchanged.
 * `registry` is the lookup of the client's audiences (registryAudiences). invalid_argument names
 * `audience` or `scopes` and the offending values.
 */
export function checkRegisteredGrant(caller: Caller, client: GrantedClient, registry: RegistryLookup, issuer: string): void {
  if (registry.total === 0 && caller.organizationId === undefined) return;
  const byAudience = new Map<string, ResourceServer>(registry.servers.map((server) => [server.audience, server]));
  const unknown = registryAudiences(client.audience, issuer).filter((audience) => !byAudience.has(audience));
  if (unknown.length > 0) {
    const why = registry.total === 0 ? `no API is registered yet: ${registerFirst}` : `not a registered API: ${registerFirst}`;
    throw new InvalidArgumentError("audience", `${unknown.join(" ")}: ${why}`);
  }
  const closed = client.audience.filter((audience) => {
    const allowed = byAudience.get(audience)?.organizationIds ?? [];
    return allowed.length > 0 && !allowed.includes(client.organizationId);
  });
  if (closed.length > 0) {
    throw new InvalidArgumentError(
      "audience",
      `${closed.join(" ")}: not available to organization ${client.organizationId} (the API is limited to other organizations)`,
    );
  }
  const defined = new Set(client.audience.flatMap((audience) => byAudience.get(audience)?.scopes.map((scope) => scope.name) ?? []));
  const undefinedScopes = client.scopes.filter((scope) => !scope.startsWith(reservedScopePrefix) && !defined.has(scope));
  if (undefinedScopes.length > 0) {
    const why =
      registry.total === 0
        ? `no API is registered yet: ${registerFirst}`
        : `not defined by any of the client's audiences (${client.audience.join(" ")}); the API must define the scope first (PATCH /api/v1/resource-servers/{id})`;
    throw new InvalidArgumentError("scopes", `${undefinedScopes.join(" ")}: ${why}`);
  }
}
