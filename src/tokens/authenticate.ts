import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import type { SecretHasher } from "../clients/secret-hasher.js";
import { InvalidClientError } from "../errors.js";
import type { ClientReader } from "../store/client-record-cache.js";
import type { ClientAssertionVerifier } from "./client-assertion.js";

/** AuthenticatedClient is a client whose secret or assertion matched, and which of its secrets it was (empty for an assertion). */
export interface AuthenticatedClient {
  record: ClientRecord;
  secretId: string;
  /** system is true for the issuer's own clients, which live outside the store. */
  system: boolean;
}

/** ClientAuthenticator checks a client's id and secret. */
export interface ClientAuthenticator {
  /** authenticate returns the client and the secret used, or throws `invalid_client` whatever was wrong. */
  authenticate(clientId: string, clientSecret: string): Promise<AuthenticatedClient>;
  /** authenticateAssertion checks an RFC 7523 client assertion (`clientId` may be empty), or throws `invalid_client`. */
  authenticateAssertion(clientId: string, assertion: string): Promise<AuthenticatedClient>;
}

/** PresentedCredentials are what a request authenticates its client with: a secret, or an RFC 7523 assertion (the secret then empty). */
export interface PresentedCredentials {
  clientId: string;
  clientSecret: string;
  clientAssertion?: string | undefined;
}

/**
 * authenticateClient checks whichever method the request used: the one step the token,
 * introspection and revocation paths share, over HTTP and RPC, so a client authenticates alike everywhere.
 */
export async function authenticateClient(authenticator: ClientAuthenticator, credentials: PresentedCredentials): Promise<AuthenticatedClient> {
  if (credentials.clientAssertion !== undefined) return authenticator.authenticateAssertion(credentials.clientId, credentials.clientAssertion);
  // RFC 6749 §5.2: "no client authentication included" is invalid_client, on every path alike.
  if (credentials.clientId === "" || credentials.clientSecret === "") throw new InvalidClientError("client authentication is required");
  return authenticator.authenticate(credentials.clientId, credentials.clientSecret);
}

/** ClientAuthenticatorOptions configures createClientAuthenticator. */
export interface ClientAuthenticatorOptions {
  /** store finds client records: the store itself, or a short-lived cache of it. */
  store: ClientReader;
  hasher: SecretHasher;
  /** systemClients are the issuer's own clients (the admin), kept outside any organization. */
  systemClients?: ReadonlyMap<string, ClientRecord>;
  /** assertions verifies private_key_jwt client assertions; unset: they are refused. */
  assertions?: ClientAssertionVerifier;
}

const maxLength = 256;

/**
 * createClientAuthenticator returns an authenticator doing one store read, one keyed hash and
 * constant-time compares. The hash is computed before the lookup, so an unknown client id costs
 * the same work as a wrong secret, and the answer never says which of the two was wrong.
 */
export function createClientAuthenticator(options: ClientAuthenticatorOptions): ClientAuthenticator {
  const { store, hasher } = options;
  if (!store) throw new TypeError("createClientAuthenticator: options.store is required");
  if (!hasher) throw new TypeError("createClientAuthenticator: options.hasher is required");
  const systemClients = options.systemClients ?? new Map<string, ClientRecord>();
  return {
    async authenticate(clientId, clientSecret) {
      if (clientId.length === 0 || clientId.length > maxLength || clientSecret.length === 0 || clientSecret.length > maxLength) {
        throw new InvalidClientError();
      }
      const hash = hasher.hash(clientSecret);
      const system = systemClients.get(clientId);
      const record = system ?? (await store.get(clientId));
      // One keyed hash, compared with each stored hash: adding secrets adds compares, not hashing.
      const match =
        record === undefined
          ? -1
          : hasher.matches(
              hash,
              record.secretHashes.map((s) => s.hash),
            );
      if (record === undefined || match < 0) throw new InvalidClientError();
      return { record, secretId: record.secretHashes[match]?.secretId ?? "", system: system !== undefined };
    },
    async authenticateAssertion(clientId, assertion) {
      if (options.assertions === undefined) throw new InvalidClientError("client assertions are not accepted here");
      return { record: await options.assertions.verify(clientId, assertion), secretId: "", system: false };
    },
  };
}
