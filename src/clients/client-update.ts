import type { M2MClient, OrganizationClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { InvalidArgumentError } from "../errors.js";
import type { FederationPolicy } from "./federated-identities.js";
import { validateClient, type ValidClient } from "./validate.js";

/** updatableFields are the OrganizationClient fields an update mask may name (snake_case paths). */
export const updatableFields: readonly string[] = [
  "name",
  "description",
  "custom_claims",
  "scopes",
  "audience",
  "expiry",
  "jwks",
  "jwks_uri",
  "federated_identities",
];

// A FieldMask's JSON form names paths in lowerCamelCase (protobuf JSON mapping); the mask's own are snake_case.
const snakeCase = (path: string) => path.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/**
 * impliedMask is the mask of an update that named none: every field set to a non-default value
 * (AIP-134), so an RPC caller that sends only a new name changes only the name.
 */
export function impliedMask(input: OrganizationClient): string[] {
  const mask: string[] = [];
  if (input.name !== "") mask.push("name");
  if (input.description !== "") mask.push("description");
  if (input.customClaims.length > 0) mask.push("custom_claims");
  if (input.scopes.length > 0) mask.push("scopes");
  if (input.audience.length > 0) mask.push("audience");
  if (input.expiry !== 0) mask.push("expiry");
  if (input.jwks !== undefined) mask.push("jwks");
  if (input.jwksUri !== "") mask.push("jwks_uri");
  if (input.federatedIdentities.length > 0) mask.push("federated_identities");
  return mask;
}

/**
 * checkMask returns the mask's paths in snake_case, refusing unknown or repeated paths, and an
 * empty mask; `updatable` is what the message's update may name (default: a client's).
 */
export function checkMask(paths: readonly string[], updatable: readonly string[] = updatableFields): string[] {
  const seen = new Set<string>();
  for (const raw of paths) {
    const path = snakeCase(raw);
    if (!updatable.includes(path)) {
      throw new InvalidArgumentError("update_mask", `"${raw}" is not updatable; use ${updatable.join(", ")}`);
    }
    seen.add(path);
  }
  if (seen.size === 0) throw new InvalidArgumentError("update_mask", "names no field to update");
  return [...seen];
}

/**
 * mergeUpdate applies the masked fields of `input` over `current` and validates the result whole,
 * identities against `federation`, a jwks_uri against `jwksOrigins` (a kept one too: an origin the
 * operator has since removed is refused on any update until the uri is changed or cleared).
 */
export function mergeUpdate(
  current: M2MClient,
  input: OrganizationClient,
  mask: readonly string[],
  federation?: FederationPolicy,
  jwksOrigins?: readonly string[],
): ValidClient {
  const has = (field: string) => mask.includes(field);
  return validateClient(
    {
      ...input,
      name: has("name") ? input.name : current.name,
      description: has("description") ? input.description : current.description,
      customClaims: has("custom_claims") ? input.customClaims : current.customClaims,
      scopes: has("scopes") ? input.scopes : current.scopes,
      audience: has("audience") ? input.audience : current.audience,
      expiry: has("expiry") ? input.expiry : current.expiry,
      jwks: has("jwks") ? input.jwks : current.jwks,
      jwksUri: has("jwks_uri") ? input.jwksUri : current.jwksUri,
      federatedIdentities: has("federated_identities") ? input.federatedIdentities : current.federatedIdentities,
    },
    federation,
    jwksOrigins,
  );
}
