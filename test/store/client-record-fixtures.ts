import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ClientSecretSchema, ClientSecretStatus, CustomClaimSchema, M2MClientSchema } from "../../gen/m2mauth/v1/clients_pb.js";
import { type ClientRecord, ClientRecordSchema, SecretHashSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { organizationTag } from "../../src/store/key-layout.js";

const base32 = "abcdefghijklmnopqrstuvwxyz234567";

/** randomBase32 is `length` random characters of the alphabet generated client ids use. */
export function randomBase32(length: number): string {
  return Array.from(randomBytes(length), (byte) => base32[byte & 31]).join("");
}

/** newOrganizationId is an organization id no other test uses. */
export function newOrganizationId(): string {
  return `org_${randomBytes(6).toString("hex")}`;
}

/** newClientId is a generated-style client id carrying its organization's hash tag. */
export function newClientId(organizationId: string, body = randomBase32(14)): string {
  return `m2morg_${organizationTag(organizationId)}${body}`;
}

/** makeRecord is a fully populated record of `organizationId`, created at `createMs`, with secrets `secretIds` (default `sec_1`). */
export function makeRecord(
  organizationId: string,
  options: { clientId?: string; createMs?: number; name?: string; secretIds?: readonly string[] } = {},
): ClientRecord {
  const secretIds = options.secretIds ?? ["sec_1"];
  const createMs = options.createMs ?? Date.now();
  const clientId = options.clientId ?? newClientId(organizationId);
  return create(ClientRecordSchema, {
    client: create(M2MClientSchema, {
      clientId,
      organizationId,
      name: options.name ?? `client ${clientId}`,
      description: "a test client",
      createTime: timestampFromMs(createMs),
      updateTime: timestampFromMs(createMs + 1_234),
      scopes: ["read:things", "write:things"],
      audience: ["https://api.example.com"],
      customClaims: [create(CustomClaimSchema, { key: "tier", value: "gold" })],
      expiry: 3600,
      secrets: secretIds.map((id) =>
        create(ClientSecretSchema, {
          id,
          createTime: timestampFromMs(createMs),
          updateTime: timestampFromMs(createMs + 5),
          secretSuffix: "x9Qz",
          status: ClientSecretStatus.ACTIVE,
          lastUsedTime: timestampFromMs(createMs + 60_000),
        }),
      ),
    }),
    secretHashes: secretIds.map((secretId) => create(SecretHashSchema, { secretId, hash: new Uint8Array(randomBytes(32)) })),
  });
}

/** clientIdsOf lists the client ids of `records`, in order. */
export function clientIdsOf(records: ClientRecord[]): string[] {
  return records.map((record) => record.client?.clientId ?? "");
}
