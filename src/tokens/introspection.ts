import type { JsonObject } from "@bufbuild/protobuf";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { maxClockSkewSeconds } from "../rules.js";
import type { ClientReader } from "../store/client-record-cache.js";
import type { RevocationStore } from "../store/client-store.js";
import { InvalidRequestError } from "../errors.js";
import { authenticateClient, type AuthenticatedClient, type ClientAuthenticator, type PresentedCredentials } from "./authenticate.js";
import type { TokenValidator } from "./token-validator.js";

/** Introspection is an RFC 7662 §2.2 answer: `{active: false}` and nothing else, or the claims. */
export type Introspection = { active: false } | ({ active: true; token_type: "Bearer" } & JsonObject);

/** TokenIntrospector answers RFC 7662 introspection and RFC 7009 revocation for an authenticated client. */
export interface TokenIntrospector {
  /**
   * introspect says whether `token` is active for `caller` to know: signed here, not expired, not
   * revoked, its client still registered, and the caller allowed to see it (see canSee).
   */
  introspect(token: string, caller: AuthenticatedClient): Promise<Introspection>;
  /**
   * revoke denies `token` (its `jti`) on every instance until it would have expired, when the
   * caller is the token's client or the environment's admin; anything else is silently ignored
   * (RFC 7009 §2.2: the answer is the same either way).
   */
  revoke(token: string, caller: AuthenticatedClient): Promise<void>;
}

/** TokenIntrospectorOptions configures createTokenIntrospector. */
export interface TokenIntrospectorOptions {
  /** validator verifies our tokens and refuses revoked ones (the one ValidateToken uses). */
  validator: TokenValidator;
  /** clients reads client records: the store itself, so a deleted client's tokens go inactive at once. */
  clients: ClientReader;
  /** systemClients are the issuer's own clients (the admin), kept outside the store. */
  systemClients?: ReadonlyMap<string, ClientRecord>;
  revocations: RevocationStore;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
}

const inactive: Introspection = Object.freeze({ active: false as const });

// Who may learn about a token (RFC 7662 §4 warns against token scanning): its own client, a
// client of the same organization (the token's `oid`; a resource server registered in the
// organization whose clients call it), or the environment's admin. Anyone else is told
// `active: false`, as §2.2 allows, so a tenant learns nothing of another tenant's tokens.
function canSee(claims: JsonObject, caller: AuthenticatedClient): boolean {
  if (caller.system) return true;
  const client = caller.record.client;
  if (client === undefined) return false;
  if (claims["client_id"] === client.clientId) return true;
  return client.organizationId !== "" && claims["oid"] === client.organizationId;
}

/** createTokenIntrospector returns the introspection and revocation logic over the validator and the store. */
export function createTokenIntrospector(options: TokenIntrospectorOptions): TokenIntrospector {
  const { validator, clients, revocations } = options;
  const systemClients = options.systemClients ?? new Map<string, ClientRecord>();
  const now = options.now ?? Date.now;

  // The token's claims when it verifies and is not revoked; undefined for anything else, whatever
  // was wrong (RFC 7662 §2.2 and RFC 7009 §2.2 tell the caller no more). Store failures throw.
  async function verified(token: string): Promise<JsonObject | undefined> {
    if (token === "") return undefined;
    const result = await validator.validate(token, "");
    return result.valid ? result.claims : undefined;
  }

  return {
    async introspect(token, caller) {
      const claims = await verified(token);
      if (claims === undefined || !canSee(claims, caller)) return inactive;
      // A deleted client's tokens are inactive at once: a store read, not a cache.
      const clientId = claims["client_id"];
      if (typeof clientId !== "string") return inactive;
      const exists = systemClients.has(clientId) || (await clients.get(clientId)) !== undefined;
      if (!exists) return inactive;
      // `scopes` is the verifier's normalized list, our own claim; `active` and `token_type` are
      // RFC 7662's, set last so no custom claim can shadow them.
      return { ...claims, active: true, token_type: "Bearer" };
    },
    async revoke(token, caller) {
      const claims = await verified(token);
      if (claims === undefined) return;
      const mine = caller.record.client?.clientId === claims["client_id"];
      // The environment's admin may cut off any token (the operator's answer to a leaked one).
      if (!mine && !caller.system) return;
      const { jti, exp } = claims;
      if (typeof jti !== "string" || typeof exp !== "number") return;
      // Denied until no verifier could accept it any more: its `exp` plus the largest skew a
      // verifier may allow (rules.ts); then Redis drops the key by itself.
      const ttlMs = Math.ceil((exp + maxClockSkewSeconds) * 1000 - now());
      // Counted against the token's organization (its `oid`; none for the environment's own), so
      // no tenant fills the list for the others (store/client-record-codec.ts).
      const oid = claims["oid"];
      if (ttlMs > 0) await revocations.revoke(jti, ttlMs, typeof oid === "string" ? oid : "");
    },
  };
}

/**
 * authenticateCaller authenticates an introspection or revocation caller as the token endpoint
 * would, then requires the token (the order RFC 7662 §2.1 and RFC 7009 §2.1 keep): both edges, HTTP and RPC, use it.
 */
export async function authenticateCaller(
  authenticator: ClientAuthenticator,
  credentials: PresentedCredentials,
  token: string | undefined,
): Promise<{ caller: AuthenticatedClient; token: string }> {
  const caller = await authenticateClient(authenticator, credentials);
  if (token === undefined || token === "") throw new InvalidRequestError("token is required");
  return { caller, token };
}
