import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SecretHashSchema, type ClientRecord, type SecretHash } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { ClientSecretSchema, ClientSecretStatus, type ClientSecret, type M2MClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { FailedPreconditionError, NotFoundError } from "../errors.js";
import type { SecretUseTimes } from "../store/client-store.js";
import { newSecret, newSecretId } from "./ids.js";
import type { SecretHasher } from "./secret-hasher.js";

/** maxSecrets is how many secrets a client may hold: enough to rotate, few enough to audit. */
export const maxSecrets = 5;

/** NewSecret is a secret as created: its description, its stored hash and the only plain copy. */
export interface NewSecret {
  secret: ClientSecret;
  hash: SecretHash;
  plainSecret: string;
}

/**
 * newClientSecret makes a secret with 256 random bits (or describes `given`, the environment's
 * configured admin secret); only its keyed hash is ever stored.
 */
export function newClientSecret(hasher: SecretHasher, ms: number, given?: string): NewSecret {
  const plainSecret = given ?? newSecret();
  const id = newSecretId();
  const time = timestampFromMs(ms);
  return {
    secret: create(ClientSecretSchema, {
      id,
      createTime: time,
      updateTime: time,
      secretSuffix: plainSecret.slice(-4),
      status: ClientSecretStatus.ACTIVE,
    }),
    hash: create(SecretHashSchema, { secretId: id, hash: hasher.hash(plainSecret) }),
    plainSecret,
  };
}

/** addSecret returns a change that adds `added` to a record, refusing a sixth secret. */
export function addSecret(added: NewSecret, ms: number): (record: ClientRecord) => ClientRecord {
  return (record) => {
    const client = record.client as M2MClient;
    if (client.secrets.length >= maxSecrets) {
      throw new FailedPreconditionError(`client ${client.clientId} already has ${maxSecrets} secrets; delete one first`);
    }
    client.secrets.push(added.secret);
    client.updateTime = timestampFromMs(ms);
    record.secretHashes.push(added.hash);
    return record;
  };
}

/** canAuthenticate says a client keeps a way to authenticate: a secret, keys (jwks or jwks_uri) or a federated identity. */
export function canAuthenticate(client: Pick<M2MClient, "secrets" | "jwks" | "jwksUri" | "federatedIdentities">): boolean {
  return client.secrets.length > 0 || (client.jwks?.keys.length ?? 0) > 0 || client.jwksUri !== "" || client.federatedIdentities.length > 0;
}

/** removeSecret returns a change that removes a secret and its hash, refusing to remove the last unless the client has keys. */
export function removeSecret(secretId: string, ms: number): (record: ClientRecord) => ClientRecord {
  return (record) => {
    const client = record.client as M2MClient;
    if (!client.secrets.some((s) => s.id === secretId)) {
      throw new NotFoundError(`secret ${secretId} not found on client ${client.clientId}`);
    }
    // A client without a secret or a key could never authenticate again: rotate by adding first.
    // With registered keys (private_key_jwt) it may drop its secrets and authenticate by key only.
    if (client.secrets.length === 1 && !canAuthenticate({ ...client, secrets: [] })) {
      throw new FailedPreconditionError(
        "cannot delete the last secret of a client without keys (jwks or jwks_uri) or federated identities; create another secret first",
      );
    }
    client.secrets = client.secrets.filter((s) => s.id !== secretId);
    client.updateTime = timestampFromMs(ms);
    record.secretHashes = record.secretHashes.filter((h) => h.secretId !== secretId);
    return record;
  };
}

/** withLastUsed sets each secret's last_used_time from the store's use times. */
export function withLastUsed(client: M2MClient, uses: SecretUseTimes): M2MClient {
  const times = uses.get(client.clientId);
  if (times !== undefined) {
    for (const secret of client.secrets) {
      const ms = times.get(secret.id);
      if (ms !== undefined) secret.lastUsedTime = timestampFromMs(ms);
    }
  }
  return client;
}
