import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ClientSecretStatus, type ClientSecret, type M2MClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyStatus, type SigningKey } from "../../gen/m2mauth/v1/keys_pb.js";

// What the CLI prints: the response message as JSON for scripts (--json), else aligned tables for
// people. Tables go to stdout; notes that are no part of the data go to stderr.

/** Output writes a command's result, as JSON or as text. */
export interface Output {
  json: boolean;
  /** message prints a response: its JSON when --json, else what `text` makes of it. */
  message<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, text: (m: MessageShape<Desc>) => string[]): void;
  /** line prints one line of text (never with --json, where stdout is the JSON alone). */
  line(text: string): void;
  /** note prints to stderr: what people should read, never what scripts parse. */
  note(text: string): void;
}

// The REST API's JSON shape (snake_case field names, every field present), so a script written
// against `curl … | jq .client.client_id` reads the CLI's --json the same way.
const jsonOptions = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;

/** createOutput writes to stdout and stderr. */
export function createOutput(json: boolean): Output {
  return {
    json,
    message(schema, message, text) {
      const lines = json ? [JSON.stringify(toJson(schema, message, jsonOptions), null, 2)] : text(message);
      process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    },
    line(text) {
      if (!json) process.stdout.write(`${text}\n`);
    },
    note(text) {
      process.stderr.write(`${text}\n`);
    },
  };
}

/** table aligns rows under a header, two spaces between columns. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** time prints a timestamp as ISO 8601 UTC, or "-" when absent. */
export function time(ts: Timestamp | undefined): string {
  return ts === undefined ? "-" : timestampDate(ts).toISOString();
}

const list = (values: readonly string[]) => (values.length === 0 ? "-" : values.join(" "));

/** clientRows are one line per client, for `clients list`. */
export function clientRows(clients: readonly M2MClient[]): string[] {
  return table(
    ["CLIENT_ID", "NAME", "SCOPES", "AUDIENCE", "SECRETS", "CREATED"],
    clients.map((c) => [c.clientId, c.name, list(c.scopes), list(c.audience), String(c.secrets.length), time(c.createTime)]),
  );
}

/** secretRows are one line per secret: its id, the suffix people recognize it by, its times. */
export function secretRows(secrets: readonly ClientSecret[]): string[] {
  return table(
    ["SECRET_ID", "SUFFIX", "STATUS", "CREATED", "LAST_USED"],
    secrets.map((s) => [s.id, `…${s.secretSuffix}`, ClientSecretStatus[s.status] ?? String(s.status), time(s.createTime), time(s.lastUsedTime)]),
  );
}

/** clientDetail is one client, field by field, then its secrets. */
export function clientDetail(c: M2MClient | undefined): string[] {
  if (c === undefined) return [];
  const fields: [string, string][] = [
    ["client_id", c.clientId],
    ["organization", c.organizationId],
    ["name", c.name],
    ["description", c.description || "-"],
    ["scopes", list(c.scopes)],
    ["audience", list(c.audience)],
    ["custom_claims", list(c.customClaims.map((claim) => `${claim.key}=${claim.value}`))],
    // 0 is the API's "default": the token lifetime is then 3600 s (clients.proto).
    ["expiry", c.expiry === 0 ? "3600 s (default)" : `${c.expiry} s`],
    ["created", time(c.createTime)],
    ["updated", time(c.updateTime)],
  ];
  if (c.jwksUri !== "") fields.push(["jwks_uri", c.jwksUri]);
  if (c.jwks !== undefined && c.jwks.keys.length > 0) fields.push(["jwks", c.jwks.keys.map((k) => k.kid).join(" ")]);
  for (const identity of c.federatedIdentities) {
    fields.push(["federated", [identity.issuer, identity.subject, identity.audience].filter((part) => part !== "").join(" ")]);
  }
  const width = Math.max(...fields.map(([k]) => k.length));
  return [...fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`), "", ...secretRows(c.secrets)];
}

/** keyRows are one line per signing key. */
export function keyRows(keys: readonly SigningKey[]): string[] {
  return table(
    ["KID", "ALG", "STATUS", "CREATED", "ACTIVATED", "RETIRES"],
    keys.map((k) => [
      k.kid,
      k.alg,
      (SigningKeyStatus[k.status] ?? String(k.status)).replace("SIGNING_KEY_STATUS_", ""),
      time(k.createTime),
      time(k.activateTime),
      time(k.retireTime),
    ]),
  );
}

/** shownOnce is printed beside every new secret: the API keeps only a hash of it. */
export const shownOnce = "This secret is shown once: store it now (a secret manager, not a file in the repository). It cannot be shown again.";
