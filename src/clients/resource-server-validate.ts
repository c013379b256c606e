import type { ResourceServer } from "../../gen/m2mauth/v1/resource_servers_pb.js";
import { checkMask } from "./client-update.js";
import { InvalidArgumentError } from "../errors.js";
import { maxScopeLength, scopeTokenPattern } from "../rules.js";
import { reservedScopePrefix } from "./caller.js";
import { text, validateAudienceValue, validateName, validateOrganizationId } from "./validate.js";

// What a resource server may hold. The bounds keep one server small (~45 KB at most) because the
// whole registry lives in one Redis slot and a client's create reads the servers it names
// (store/resource-server-store.ts, maxResourceServers).

/** maxResourceServerScopes bounds the scopes one API defines. */
export const maxResourceServerScopes = 100;
/** maxResourceServerOrganizations bounds the organizations an API may be limited to. */
export const maxResourceServerOrganizations = 100;

const maxDescription = 1024;
const maxScopeDescription = 256;
const resourceServerIdPattern = /^rs_[a-z2-7]{20}$/;

/** ValidResourceServer is what a create or update may store, checked. */
export type ValidResourceServer = Pick<ResourceServer, "audience" | "name" | "description" | "organizationIds"> & {
  scopes: { name: string; description: string }[];
};

/** updatableResourceServerFields are the paths an update mask may name (audience only with its current value). */
export const updatableResourceServerFields: readonly string[] = ["name", "description", "scopes", "organization_ids"];

/** validateResourceServerId checks an id from a path or request before it is used as a key. */
export function validateResourceServerId(id: string): string {
  if (!resourceServerIdPattern.test(id)) throw new InvalidArgumentError("id", "is not a resource server id (rs_ and 20 characters)");
  return id;
}

function scopes(values: ResourceServer["scopes"]): ValidResourceServer["scopes"] {
  if (values.length > maxResourceServerScopes) throw new InvalidArgumentError("scopes", `at most ${maxResourceServerScopes} scopes`);
  const seen = new Set<string>();
  return values.map(({ name, description }, i) => {
    if (!scopeTokenPattern.test(name) || name.length > maxScopeLength) {
      throw new InvalidArgumentError(`scopes[${i}].name`, `must be 1-${maxScopeLength} printable ASCII characters without space, '"' or '\\' (RFC 6749 §3.3)`);
    }
    // The service's own scopes are granted by checkGrantable's rule, never through the registry.
    if (name.startsWith(reservedScopePrefix))
      throw new InvalidArgumentError(`scopes[${i}].name`, `"${name}": ${reservedScopePrefix}* scopes are the service's own`);
    if (seen.has(name)) throw new InvalidArgumentError(`scopes[${i}].name`, `"${name}" is listed twice`);
    seen.add(name);
    text(`scopes[${i}].description`, description);
    if ([...description].length > maxScopeDescription) throw new InvalidArgumentError(`scopes[${i}].description`, `at most ${maxScopeDescription} characters`);
    return { name, description };
  });
}

function organizationIds(values: readonly string[]): string[] {
  if (values.length > maxResourceServerOrganizations) {
    throw new InvalidArgumentError("organization_ids", `at most ${maxResourceServerOrganizations} organizations`);
  }
  values.forEach((value, i) => {
    try {
      validateOrganizationId(value);
    } catch {
      throw new InvalidArgumentError(`organization_ids[${i}]`, "must be 1-64 characters of A-Z a-z 0-9 _ -");
    }
  });
  if (new Set(values).size !== values.length) throw new InvalidArgumentError("organization_ids", "an organization is listed twice");
  return [...values];
}

/** validateResourceServer checks a server to store; its audience may not be the issuer URL (the management API is not registrable). */
export function validateResourceServer(input: ResourceServer | undefined, issuer: string): ValidResourceServer {
  if (input === undefined) throw new InvalidArgumentError("resource_server", "is required");
  const audience = validateAudienceValue("audience", input.audience);
  if (audience === issuer) throw new InvalidArgumentError("audience", "is this service's issuer URL: the management API is not a registrable API");
  const name = validateName(input.name);
  text("description", input.description);
  if ([...input.description].length > maxDescription) throw new InvalidArgumentError("description", `at most ${maxDescription} characters`);
  return { audience, name, description: input.description, scopes: scopes(input.scopes), organizationIds: organizationIds(input.organizationIds) };
}

/** impliedResourceServerMask is the mask of an update that named none: every field set to a non-default value (AIP-134). */
export function impliedResourceServerMask(input: ResourceServer): string[] {
  const mask: string[] = [];
  if (input.audience !== "") mask.push("audience");
  if (input.name !== "") mask.push("name");
  if (input.description !== "") mask.push("description");
  if (input.scopes.length > 0) mask.push("scopes");
  if (input.organizationIds.length > 0) mask.push("organization_ids");
  return mask;
}

/**
 * mergeResourceServer applies the masked fields of `input` over `current` and validates the result
 * whole. The audience is what clients' tokens carry: it cannot change (a mask may name it only
 * with the value it has, as a PATCH of the whole object does).
 */
export function mergeResourceServer(current: ResourceServer, input: ResourceServer, mask: readonly string[], issuer: string): ValidResourceServer {
  // The audience may be named, with the value it has (a PATCH of the whole object), never changed.
  const paths = checkMask(mask, [...updatableResourceServerFields, "audience"]);
  if (paths.includes("audience") && input.audience !== current.audience) {
    throw new InvalidArgumentError("audience", "is immutable after create: register a new resource server for another audience, then delete this one");
  }
  const has = (field: string) => paths.includes(field);
  return validateResourceServer(
    {
      ...current,
      name: has("name") ? input.name : current.name,
      description: has("description") ? input.description : current.description,
      scopes: has("scopes") ? input.scopes : current.scopes,
      organizationIds: has("organization_ids") ? input.organizationIds : current.organizationIds,
    },
    issuer,
  );
}
