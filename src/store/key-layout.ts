import { createHash } from "node:crypto";

// Redis Cluster places a key by the part between its first `{` and `}` (the hash tag). A client
// id carries the hash tag of its organization, so a client's record and its organization's index
// always share a slot and one MULTI or script can write both.

const tagLength = 6;
const generatedClientId = /^m2morg_([a-z2-7]{6})[a-z2-7]+$/;
const base32 = "abcdefghijklmnopqrstuvwxyz234567";

function hashTag(value: string): string {
  const digest = createHash("sha256").update(value).digest();
  let tag = "";
  for (let i = 0; i < tagLength; i++) tag += base32[(digest[i] ?? 0) & 31];
  return tag;
}

/** organizationTag is the hash tag shared by an organization's index and its clients' records. */
export function organizationTag(organizationId: string): string {
  return hashTag(`org:${organizationId}`);
}

/** clientTag is the hash tag of a client's record: its organization's, read from a generated id. */
export function clientTag(clientId: string): string {
  const match = generatedClientId.exec(clientId);
  return match?.[1] ?? hashTag(`client:${clientId}`);
}

/** KeyLayout names every Redis key the store uses, under one prefix. */
export interface KeyLayout {
  /** client is the key of a client record (protobuf `ClientRecord`). */
  client(clientId: string): string;
  /** secretUse is the hash of a client's secrets' last-use times (secret id → ms). */
  secretUse(clientId: string): string;
  /** organizationIndex is the sorted set of an organization's clients, ordered by creation. */
  organizationIndex(organizationId: string): string;
  /** createRequest is the key of an idempotent create's kept answer, in its organization's slot (it expires). */
  createRequest(organizationId: string, requestKey: string): string;
  /** state is the key of a named issuer state value. */
  state(name: string): string;
  /** clientChanges is the pub/sub channel where writes announce the client ids they changed. */
  readonly clientChanges: string;
}

/** createKeyLayout returns the key names under `prefix` (e.g. `m2m:`). */
export function createKeyLayout(prefix: string): KeyLayout {
  return {
    client: (clientId) => `${prefix}{${clientTag(clientId)}}:client:${clientId}`,
    secretUse: (clientId) => `${prefix}{${clientTag(clientId)}}:client-used:${clientId}`,
    organizationIndex: (organizationId) =>
      `${prefix}{${organizationTag(organizationId)}}:org:${organizationId}:clients`,
    createRequest: (organizationId, requestKey) =>
      `${prefix}{${organizationTag(organizationId)}}:org:${organizationId}:create-request:${requestKey}`,
    state: (name) => `${prefix}{state}:${name}`,
    clientChanges: `${prefix}client-changes`,
  };
}
