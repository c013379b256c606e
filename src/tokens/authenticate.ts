import { createHash } from "node:crypto";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { SecretHasher } from "../clients/secret-hasher.js";
import { InvalidClientError } from "../errors.js";
import { clientIdPattern, generatedAdminIdPattern, generatedClientIdPattern } from "../rules.js";
import type { ClientReader, ClientRecordCache } from "../store/client-record-cache.js";
import type { ClientAssertionVerifier } from "./client-assertion.js";

/** AuthenticatedClient is a client whose secret or assertion matched, and which of its secrets it was (empty for an assertion). */
export interface AuthenticatedClient {
  record: ClientRecord;
  secretId: string;
  /** system is true for the issuer's own clients, which live outside the store. */
  system: boolean;
}

/** CallOrigin is where an authentication attempt came from (the edges' RequestOrigin): what throttling and audit key on. */
export interface CallOrigin {
  requestId: string;
  /** sourceAddress is the caller's IP address ("" when unknown, as in an in-process call). */
  sourceAddress: string;
}

/** ClientAuthenticator checks a client's id and secret. */
export interface ClientAuthenticator {
  /** authenticate returns the client and the secret used, or throws `invalid_client` whatever was wrong. */
  authenticate(clientId: string, clientSecret: string, origin?: CallOrigin): Promise<AuthenticatedClient>;
  /** authenticateAssertion checks an RFC 7523 client assertion (`clientId` may be empty), or throws `invalid_client`. */
  authenticateAssertion(clientId: string, assertion: string, origin?: CallOrigin): Promise<AuthenticatedClient>;
}

/** PresentedCredentials are what a request authenticates its client with: a secret, or an RFC 7523 assertion (the secret then empty). */
export interface PresentedCredentials {
  clientId: string;
  clientSecret: string;
  clientAssertion?: string | undefined;
  /** origin is where the request came from (throttling, audit); unset in-process. */
  origin?: CallOrigin | undefined;
}

/**
 * loggableId is the client id as a log line or audit event may hold it. Only ids of our own
 * formats (and the configured admin's) are kept as sent: anything else in `client_id` may be a
 * secret pasted the wrong way round (a 64-hex admin secret looks like an id), so it becomes a
 * short hash, enough to correlate lines.
 */
export function loggableId(clientId: string, adminClientId: string | undefined): string {
  const ours = clientIdPattern.test(clientId) && (generatedClientIdPattern.test(clientId) || generatedAdminIdPattern.test(clientId));
  if (ours || clientId === adminClientId) return clientId;
  return `sha256:${createHash("sha256").update(clientId).digest("hex").slice(0, 12)}`;
}

/**
 * authenticateClient checks whichever method the request used: the one step the token,
 * introspection and revocation paths share, over HTTP and RPC, so a client authenticates alike everywhere.
 */
export async function authenticateClient(authenticator: ClientAuthenticator, credentials: PresentedCredentials): Promise<AuthenticatedClient> {
  const { origin } = credentials;
  if (credentials.clientAssertion !== undefined) return authenticator.authenticateAssertion(credentials.clientId, credentials.clientAssertion, origin);
  // RFC 6749 §5.2: "no client authentication included" is invalid_client, on every path alike.
  if (credentials.clientId === "" || credentials.clientSecret === "") throw new InvalidClientError("client authentication is required");
  return authenticator.authenticate(credentials.clientId, credentials.clientSecret, origin);
}

/** ClientAuthenticatorOptions configures createClientAuthenticator. */
export interface ClientAuthenticatorOptions {
  /** store finds client records: the store itself. */
  store: ClientReader;
  /** cache is the token path's short-lived copy of the store (M2M_CLIENT_CACHE_MS), read first; unset: none. */
  cache?: ClientRecordCache | undefined;
  hasher: SecretHasher;
  /** systemClients are the issuer's own clients (the admin), kept outside any organization. */
  systemClients?: ReadonlyMap<string, ClientRecord>;
  /** assertions verifies private_key_jwt client assertions; unset: they are refused. */
  assertions?: ClientAssertionVerifier;
}

const maxLength = 256;

/**
 * createClientAuthenticator returns an authenticator doing one store read, one keyed hash and
 * constant-time compares. Every failure costs the same work, so its time says nothing of which
 * part was wrong: the hash is computed before the lookup; every id is read, the admin's too (kept
 * outside the store, it used to answer ~330 µs sooner); an unknown id is compared with a decoy;
 * and a wrong secret for a record the cache served is followed by the store read an unknown id
 * (never cached) made. The success path keeps the cache.
 */
export function createClientAuthenticator(options: ClientAuthenticatorOptions): ClientAuthenticator {
  const { store, hasher } = options;
  if (!store) throw new TypeError("createClientAuthenticator: options.store is required");
  if (!hasher) throw new TypeError("createClientAuthenticator: options.hasher is required");
  const systemClients = options.systemClients ?? new Map<string, ClientRecord>();
  const { cache } = options;
  const reader = cache ?? store;
  return {
    async authenticate(clientId, clientSecret) {
      if (clientId.length === 0 || clientId.length > maxLength || clientSecret.length === 0 || clientSecret.length > maxLength) {
        throw new InvalidClientError();
      }
      const hash = hasher.hash(clientSecret);
      const system = systemClients.get(clientId);
      const cached = cache?.holds(clientId) === true;
      const stored = await reader.get(clientId);
      const record = system ?? stored;
      // One keyed hash, compared with each stored hash (an unknown id's with a decoy of the same
      // length): adding secrets adds compares, not hashing.
      const hashes = record === undefined ? [new Uint8Array(hash.length)] : record.secretHashes.map((s) => s.hash);
      const match = hasher.matches(hash, hashes);
      if (record === undefined || match < 0) {
        if (cached) await store.get(clientId);
        throw new InvalidClientError();
      }
      return { record, secretId: record.secretHashes[match]?.secretId ?? "", system: system !== undefined };
    },
    async authenticateAssertion(clientId, assertion) {
      if (options.assertions === undefined) throw new InvalidClientError("client assertions are not accepted here");
      return { record: await options.assertions.verify(clientId, assertion), secretId: "", system: false };
    },
  };
}
