import { readFileSync } from "node:fs";
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { InvalidArgumentError, type Command } from "commander";
import {
  ClientJwkSetSchema,
  FederatedIdentitySchema,
  OrganizationClientSchema,
  type ClientJwkSet,
  type FederatedIdentity,
  type OrganizationClient,
} from "../../gen/m2mauth/v1/clients_pb.js";
import { claim, collect, integer } from "./command-kit.js";

// The flags that set an OrganizationClient's fields (clients.proto), one per field, for `clients
// create` and `clients update`, and the update mask they make. The API validates every value and
// its message is printed; what is parsed here is only the flags' own syntax.

/** ClientFields are the flags that set an OrganizationClient's fields, as commander parsed them. */
export interface ClientFields {
  name?: string;
  description?: string;
  scope?: string[];
  audience?: string[];
  claim?: { key: string; value: string }[];
  expiry?: number;
  jwksFile?: ClientJwkSet;
  jwksUri?: string;
  federated?: FederatedIdentity[];
}

/**
 * clearable maps the fields `clients update --clear` empties to the flag that sets each. A name
 * and an expiry have no empty value (the API refuses an empty name; expiry 0 means the default).
 */
export const clearable: Readonly<Record<string, string>> = {
  description: "--description",
  scopes: "--scope",
  audience: "--audience",
  custom_claims: "--claim",
  jwks: "--jwks-file",
  jwks_uri: "--jwks-uri",
  federated_identities: "--federated",
};

/**
 * jwksFile reads a JWK Set file (`{"keys": [...]}`) holding only what the API takes of a public
 * key (kty, kid, alg, use, crv, x, y, n, e). Any other member is refused, not dropped: a file with
 * `d` holds a private key, which must not be handed around, let alone registered.
 */
function jwksFile(path: string): ClientJwkSet {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(`cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`);
  }
  try {
    return fromJson(ClientJwkSetSchema, JSON.parse(text) as JsonValue, { ignoreUnknownFields: false });
  } catch (err) {
    throw new InvalidArgumentError(`not a JWK Set of public keys (only kty, kid, alg, use, crv, x, y, n, e): ${(err as Error).message}.`);
  }
}

/** federated parses `issuer=URL,subject=SUB[,audience=AUD]` into a federated identity (repeatable). */
function federated(value: string, previous: FederatedIdentity[] = []): FederatedIdentity[] {
  const members: Record<string, string> = {};
  for (const pair of value.split(",")) {
    const at = pair.indexOf("=");
    const key = pair.slice(0, at);
    if (at <= 0 || !["issuer", "subject", "audience"].includes(key) || key in members) {
      throw new InvalidArgumentError("expected issuer=URL,subject=SUB[,audience=AUD], each once.");
    }
    members[key] = pair.slice(at + 1);
  }
  if (members.issuer === undefined || members.subject === undefined) throw new InvalidArgumentError("issuer= and subject= are required.");
  return [...previous, create(FederatedIdentitySchema, members)];
}

/** fieldOptions adds the flags of a client's fields but its name (required on create, optional on update). */
export function fieldOptions(command: Command): Command {
  return command
    .option("--description <text>", "what the client is for")
    .option("--scope <scope>", "a scope its tokens carry (repeatable)", collect)
    .option("--audience <aud>", "an `aud` value of its tokens (repeatable)", collect)
    .option("--claim <key=value>", "a custom claim of its tokens (repeatable)", claim)
    .option("--expiry <seconds>", "token lifetime, 60 to 86400 (default 3600)", integer)
    .option("--jwks-file <path>", "a JWK Set file of the public keys it signs client assertions with (private_key_jwt)", jwksFile)
    .option("--jwks-uri <url>", "where it publishes those keys instead (an origin listed in M2M_CLIENT_JWKS_ORIGINS)")
    .option("--federated <issuer=URL,subject=SUB[,audience=AUD]>", "an external issuer's token it may authenticate with (repeatable)", federated);
}

/** clientOf is the flags given as the API's fields and its update mask (snake_case paths, clients.proto). */
export function clientOf(flags: ClientFields): { client: OrganizationClient; mask: string[] } {
  const given: [string, unknown][] = [
    ["name", flags.name],
    ["description", flags.description],
    ["scopes", flags.scope],
    ["audience", flags.audience],
    ["custom_claims", flags.claim],
    ["expiry", flags.expiry],
    ["jwks", flags.jwksFile],
    ["jwks_uri", flags.jwksUri],
    ["federated_identities", flags.federated],
  ];
  const client = create(OrganizationClientSchema, {
    name: flags.name ?? "",
    description: flags.description ?? "",
    scopes: flags.scope ?? [],
    audience: flags.audience ?? [],
    customClaims: flags.claim ?? [],
    expiry: flags.expiry ?? 0,
    jwks: flags.jwksFile,
    jwksUri: flags.jwksUri ?? "",
    federatedIdentities: flags.federated ?? [],
  });
  return { client, mask: given.filter(([, value]) => value !== undefined).map(([path]) => path) };
}
