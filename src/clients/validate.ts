import type { ClientJwkSet, CustomClaim, FederatedIdentity, OrganizationClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { InvalidArgumentError } from "../errors.js";
import {
  clientIdPattern,
  maxScopeLength,
  maxTokenLifetimeSeconds,
  minTokenLifetimeSeconds,
  organizationIdPattern,
  prototypeKeys,
  reservedClaims,
  scopeTokenPattern,
} from "../rules.js";
import { validateJwks } from "./client-jwks.js";
import { validateJwksUri } from "./client-jwks-uri.js";
import { validateFederatedIdentities, type FederationPolicy } from "./federated-identities.js";

/** defaultExpirySeconds is a token lifetime when the client names none (the seed's default). */
export const defaultExpirySeconds = 3600;

const claimKey = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
// eslint-disable-next-line no-control-regex -- finding control characters in client text is the point
const controlChars = /[\u0000-\u001F\u007F]/;

// connect-es and protobuf-es decode invalid UTF-8 leniently, as U+FFFD (protobuf-es refuses only
// a JSON-escaped lone surrogate). Refusing U+FFFD in every text a client sets makes every
// transport (REST, Connect JSON and binary, gRPC) refuse what REST's strict decoder does, instead
// of storing replaced characters (RFC 8259 §8.1); the price is that U+FFFD itself is never stored.
/** text refuses invalid UTF-8 (U+FFFD) in a text field, naming it; it returns the value. */
export function text(field: string, value: string): string {
  if (value.includes("\uFFFD")) throw new InvalidArgumentError(field, "must be valid UTF-8 text (invalid bytes, and U+FFFD, are refused)");
  return value;
}

/** ValidClient is an OrganizationClient that passed validation, with defaults applied. */
export interface ValidClient {
  name: string;
  description: string;
  customClaims: { key: string; value: string }[];
  scopes: string[];
  audience: string[];
  expiry: number;
  /** jwks are the client's public keys for private_key_jwt; undefined when it has none. */
  jwks: ClientJwkSet | undefined;
  /** jwksUri is where the client publishes its keys instead; "" when it has none. */
  jwksUri: string;
  /** federatedIdentities are the external identities the client authenticates as, audiences filled in. */
  federatedIdentities: FederatedIdentity[];
}

/** validateOrganizationId checks an organization id taken from a path or request. */
export function validateOrganizationId(organizationId: string): string {
  if (!organizationIdPattern.test(organizationId)) {
    throw new InvalidArgumentError("organization_id", "must be 1-64 characters of A-Z a-z 0-9 _ -");
  }
  return organizationId;
}

/** validateClientId checks the shape of a client id before it is used as a key. */
export function validateClientId(clientId: string): string {
  if (!clientIdPattern.test(clientId)) {
    throw new InvalidArgumentError("client_id", "must be 1-128 characters of A-Z a-z 0-9 _ . : -");
  }
  return clientId;
}

function unique(field: string, values: readonly string[], max: number): string[] {
  if (values.length > max) throw new InvalidArgumentError(field, `at most ${max} values`);
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) throw new InvalidArgumentError(field, `"${value}" is listed twice`);
    seen.add(value);
  }
  return [...values];
}

function scopes(values: readonly string[]): string[] {
  values.forEach((scope, i) => {
    if (!scopeTokenPattern.test(scope) || scope.length > maxScopeLength) {
      throw new InvalidArgumentError(`scopes[${i}]`, `must be 1-${maxScopeLength} printable ASCII characters without space, '"' or '\\' (RFC 6749 §3.3)`);
    }
  });
  return unique("scopes", values, 50);
}

function audience(values: readonly string[]): string[] {
  // RFC 9068 §2.2: an access token always has an audience.
  if (values.length === 0) throw new InvalidArgumentError("audience", "at least one audience is required");
  values.forEach((value, i) => validateAudienceValue(`audience[${i}]`, value));
  return unique("audience", values, 10);
}

/** validateAudienceValue checks one audience (a client's, or a resource server's): 1-256 characters without spaces, a URI or host name. */
export function validateAudienceValue(field: string, value: string): string {
  text(field, value);
  if (value.length === 0 || value.length > 256 || /\s/.test(value) || controlChars.test(value)) {
    throw new InvalidArgumentError(field, "must be 1-256 characters without spaces (a URI or host name)");
  }
  return value;
}

/** validateName checks a display name: 1-128 characters, no leading or trailing spaces, no control characters. */
export function validateName(value: string): string {
  const name = text("name", value);
  const nameLength = [...name].length;
  if (nameLength < 1 || nameLength > 128 || name.trim() !== name || controlChars.test(name)) {
    throw new InvalidArgumentError("name", "must be 1-128 characters, without leading or trailing spaces");
  }
  return name;
}

function customClaims(claims: readonly CustomClaim[]): ValidClient["customClaims"] {
  if (claims.length > 20) throw new InvalidArgumentError("custom_claims", "at most 20 claims");
  const seen = new Set<string>();
  return claims.map(({ key, value }, i) => {
    if (!claimKey.test(key)) {
      throw new InvalidArgumentError(`custom_claims[${i}].key`, "must be 1-64 characters: a letter or _, then A-Z a-z 0-9 _ . : -");
    }
    if (prototypeKeys.has(key)) {
      throw new InvalidArgumentError(`custom_claims[${i}].key`, `"${key}" is an object prototype property name and cannot be a claim`);
    }
    if (reservedClaims.has(key)) {
      throw new InvalidArgumentError(`custom_claims[${i}].key`, `"${key}" is a registered claim and cannot be overridden`);
    }
    if (seen.has(key)) throw new InvalidArgumentError(`custom_claims[${i}].key`, `"${key}" is listed twice`);
    seen.add(key);
    text(`custom_claims[${i}].value`, value);
    if (value.length > 256 || controlChars.test(value)) {
      throw new InvalidArgumentError(`custom_claims[${i}].value`, "must be at most 256 characters without control characters");
    }
    return { key, value };
  });
}

/**
 * validateClient checks a registration request and applies defaults; bad input names its field.
 * `federation` lists the issuers identities may name; without it none may be registered.
 * `jwksOrigins` (M2M_CLIENT_JWKS_ORIGINS) are the origins a jwks_uri may be on; without them none is accepted.
 */
export function validateClient(
  input: OrganizationClient | undefined,
  federation: FederationPolicy = { issuers: [], audience: "" },
  jwksOrigins: readonly string[] = [],
): ValidClient {
  if (input === undefined) throw new InvalidArgumentError("client", "is required");
  const name = validateName(input.name);
  text("description", input.description);
  if ([...input.description].length > 1024) throw new InvalidArgumentError("description", "at most 1024 characters");
  const expiry = input.expiry === 0 ? defaultExpirySeconds : input.expiry;
  if (!Number.isInteger(expiry) || expiry < minTokenLifetimeSeconds || expiry > maxTokenLifetimeSeconds) {
    throw new InvalidArgumentError("expiry", `must be ${minTokenLifetimeSeconds} to ${maxTokenLifetimeSeconds} seconds`);
  }
  const jwks = validateJwks(input.jwks);
  const jwksUri = validateJwksUri(input.jwksUri, jwksOrigins);
  // RFC 7591 §2: jwks and jwks_uri MUST NOT both be present; one source of keys, no doubt which.
  if (jwks !== undefined && jwksUri !== "") {
    throw new InvalidArgumentError(
      "jwks_uri",
      "a client has jwks or jwks_uri, not both (RFC 7591 §2); to switch, set the one and clear the other in the same update",
    );
  }
  return {
    name,
    description: input.description,
    customClaims: customClaims(input.customClaims),
    scopes: scopes(input.scopes),
    audience: audience(input.audience),
    expiry,
    jwks,
    jwksUri,
    federatedIdentities: validateFederatedIdentities(input.federatedIdentities, federation),
  };
}
