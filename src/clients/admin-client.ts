import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ClientRecordSchema, type ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { M2MClientSchema } from "../../gen/m2mauth/v1/clients_pb.js";
import { newClientSecret, type NewSecret } from "./client-secrets.js";
import { newAdminId } from "./ids.js";
import type { SecretHasher } from "./secret-hasher.js";
import { defaultExpirySeconds } from "./validate.js";

// The environment's admin client. Either M2M_ADMIN_CLIENT_ID/_SECRET configure it, or the store
// keeps a bootstrap admin made once, with the store's initialization. Once configured credentials
// are used, the stored one is disabled for good (kept without any secret hash, so nothing can
// authenticate as it): removing the variables later never revives credentials printed long ago.

/** adminScopes are the scopes of the environment's admin client: all of the management API. */
export const adminScopes: readonly string[] = [
  "m2m:clients:read",
  "m2m:clients:write",
  "m2m:keys:read",
  "m2m:keys:write",
  "m2m:resource-servers:read",
  "m2m:resource-servers:write",
];

/** adminClientStateName is the state store entry of the bootstrap admin client. */
export const adminClientStateName = "admin-client";

/** AdminCredentials are an admin's plain client id and secret. */
export interface AdminCredentials {
  clientId: string;
  clientSecret: string;
}

// An admin record; without a secret it is a disabled one.
function adminRecord(clientId: string, secret: NewSecret | undefined, ms: number): ClientRecord {
  const time = timestampFromMs(ms);
  return create(ClientRecordSchema, {
    client: create(M2MClientSchema, {
      clientId,
      name: "m2m-auth admin",
      description: "The environment's admin client: manages every organization's clients and the signing keys",
      secrets: secret === undefined ? [] : [secret.secret],
      createTime: time,
      updateTime: time,
      expiry: defaultExpirySeconds,
    }),
    secretHashes: secret === undefined ? [] : [secret.hash],
  });
}

/** newBootstrapAdmin makes a bootstrap admin: its stored bytes, and its credentials to print once. */
export function newBootstrapAdmin(hasher: SecretHasher, nowMs: number): { stored: Uint8Array; credentials: AdminCredentials } {
  const clientId = newAdminId();
  const secret = newClientSecret(hasher, nowMs);
  return { stored: toBinary(ClientRecordSchema, adminRecord(clientId, secret, nowMs)), credentials: { clientId, clientSecret: secret.plainSecret } };
}

/** isAdminDisabled reports whether a stored bootstrap admin has been disabled (it holds no secret). */
export function isAdminDisabled(stored: Uint8Array): boolean {
  return fromBinary(ClientRecordSchema, stored).secretHashes.length === 0;
}

/** storedAdminId is the client id of a stored bootstrap admin. */
export function storedAdminId(stored: Uint8Array): string {
  return fromBinary(ClientRecordSchema, stored).client?.clientId ?? "";
}

/** disabledAdmin returns the stored bytes of `stored` disabled (or of a new disabled admin): no secret can match. */
export function disabledAdmin(stored: Uint8Array | undefined, nowMs: number): Uint8Array {
  const record = stored === undefined ? adminRecord(newAdminId(), undefined, nowMs) : fromBinary(ClientRecordSchema, stored);
  const copy = clone(ClientRecordSchema, record);
  copy.secretHashes = [];
  if (copy.client) {
    copy.client.secrets = [];
    copy.client.description = "Disabled: M2M_ADMIN_CLIENT_ID/_SECRET took its place (npm run store:init -- --reset-admin makes a new one)";
    copy.client.updateTime = timestampFromMs(nowMs);
  }
  return toBinary(ClientRecordSchema, copy);
}

/** AdminChoice is which admin a process uses, and whether the stored one must be disabled first. */
export interface AdminChoice {
  /** record is the admin that authenticates; undefined: none (the stored one is disabled, none configured). */
  record: ClientRecord | undefined;
  /** disable holds the stored admin's bytes disabled, when configured credentials now take its place. */
  disable?: Uint8Array;
}

/**
 * chooseAdmin picks the admin from the configured credentials and the stored bootstrap admin. It
 * belongs to no organization, so its tokens carry no `oid`; scopes and audience are set from the
 * running configuration, so a changed issuer URL never strands the admin.
 */
export function chooseAdmin(options: {
  stored: Uint8Array;
  configured: AdminCredentials | undefined;
  hasher: SecretHasher;
  issuer: string;
  now: number;
}): AdminChoice {
  const { stored, configured, hasher, issuer, now } = options;
  let choice: AdminChoice;
  if (configured !== undefined) {
    const secret = newClientSecret(hasher, now, configured.clientSecret);
    choice = { record: adminRecord(configured.clientId, secret, now) };
    if (!isAdminDisabled(stored)) choice.disable = disabledAdmin(stored, now);
  } else {
    choice = { record: isAdminDisabled(stored) ? undefined : fromBinary(ClientRecordSchema, stored) };
  }
  const client = choice.record?.client;
  if (client) {
    client.scopes = [...adminScopes];
    client.audience = [issuer];
  }
  return choice;
}
