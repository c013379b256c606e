import { randomUUID } from "node:crypto";
import type { M2MClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { prototypeKeys, reservedClaims } from "../rules.js";

/** AccessTokenClaims is the RFC 9068 §2.2 claims set of an access token, plus custom claims. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  client_id: string;
  scope?: string;
  scopes: string[];
  oid?: string;
  [custom: string]: unknown;
}

/** buildClaims returns the claims of a token for `client`, granted `scopes` for `audience`. */
export function buildClaims(client: M2MClient, grant: { issuer: string; scopes: string[]; audience: string[]; nowSeconds: number }): AccessTokenClaims {
  // Custom claims first, so the registered claims below always win (validation forbids clashes
  // too; this keeps a record written by an older version from ever overriding one).
  const claims = Object.create(null) as AccessTokenClaims;
  // Reserved and prototype keys are refused at registration; skipping them here too keeps a record
  // written before a key was refused from ever emitting it.
  for (const { key, value } of client.customClaims) if (!reservedClaims.has(key) && !prototypeKeys.has(key)) claims[key] = value;
  claims.iss = grant.issuer;
  claims.sub = client.clientId;
  // RFC 7519 §4.1.3: a single audience may be a plain string; most verifiers accept either.
  claims.aud = grant.audience.length === 1 ? (grant.audience[0] as string) : grant.audience;
  claims.exp = grant.nowSeconds + client.expiry;
  claims.iat = grant.nowSeconds;
  claims.nbf = grant.nowSeconds;
  claims.jti = randomUUID();
  claims.client_id = client.clientId;
  // RFC 9068 §2.2.3: scope is space-delimited; `scopes` is the array Scalekit's SDKs read.
  if (grant.scopes.length > 0) claims.scope = grant.scopes.join(" ");
  claims.scopes = grant.scopes;
  if (client.organizationId !== "") claims.oid = client.organizationId;
  return claims;
}
