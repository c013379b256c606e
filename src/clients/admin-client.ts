import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ClientRecordSchema, type ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { M2MClientSchema } from "../../gen/m2mauth/v1/clients_pb.js";
import type { StateStore } from "../store/client-store.js";
import { newClientSecret, type NewSecret } from "./client-secrets.js";
import { randomBase32 } from "./ids.js";
import type { SecretHasher } from "./secret-hasher.js";

/** adminScopes are the scopes of the environment's admin client: all of the management API. */
export const adminScopes: readonly string[] = ["m2m:clients:read", "m2m:clients:write", "m2m:keys:read", "m2m:keys:write"];

/** adminClientStateName is the state store entry of the bootstrapped admin client. */
export const adminClientStateName = "admin-client";

/** AdminClientOptions configures loadAdminClient. */
export interface AdminClientOptions {
  state: StateStore;
  hasher: SecretHasher;
  /** issuer is the management API's audience, which admin tokens carry. */
  issuer: string;
  /** configured are the environment's credentials; without them, bootstrap credentials are used. */
  configured?: { clientId: string; clientSecret: string } | undefined;
  now?: () => number;
}

/** AdminClient is the admin's record and, on the one start that made them, its new credentials. */
export interface AdminClient {
  record: ClientRecord;
  /** created holds the plain credentials when this call generated them; show them once. */
  created?: { clientId: string; clientSecret: string };
}

function adminRecord(clientId: string, secret: NewSecret, ms: number): ClientRecord {
  const time = timestampFromMs(ms);
  return create(ClientRecordSchema, {
    client: create(M2MClientSchema, {
      clientId,
      name: "m2m-auth admin",
      description: "The environment's admin client: manages every organization's clients and the signing keys",
      secrets: [secret.secret],
      createTime: time,
      updateTime: time,
      expiry: 3600,
    }),
    secretHashes: [secret.hash],
  });
}

/**
 * loadAdminClient returns the environment's admin client. It belongs to no organization, so its
 * tokens carry no `oid`. Scopes and audience are set from the running configuration on every
 * start, so a changed issuer URL never strands the admin.
 */
export async function loadAdminClient(options: AdminClientOptions): Promise<AdminClient> {
  const { state, hasher, issuer, configured } = options;
  const now = options.now ?? Date.now;
  let result: AdminClient;
  if (configured !== undefined) {
    const secret = newClientSecret(hasher, now(), configured.clientSecret);
    result = { record: adminRecord(configured.clientId, secret, now()) };
  } else {
    const stored = await state.get(adminClientStateName);
    if (stored !== undefined) {
      result = { record: fromBinary(ClientRecordSchema, stored) };
    } else {
      const clientId = `m2madmin_${randomBase32(20)}`;
      const secret = newClientSecret(hasher, now());
      const clientSecret = secret.plainSecret;
      const mine = adminRecord(clientId, secret, now());
      const winner = fromBinary(ClientRecordSchema, await state.putIfAbsent(adminClientStateName, toBinary(ClientRecordSchema, mine)));
      // Another instance may have bootstrapped at the same moment: only the winner prints.
      result = equals(ClientRecordSchema, winner, mine) ? { record: mine, created: { clientId, clientSecret } } : { record: winner };
    }
  }
  const client = result.record.client;
  if (client) {
    client.scopes = [...adminScopes];
    client.audience = [issuer];
  }
  return result;
}
