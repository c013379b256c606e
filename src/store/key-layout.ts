import { createHash } from "node:crypto";
import { generatedClientIdPattern } from "../rules.js";

// Redis Cluster places a key by the part between its first `{` and `}` (the hash tag). A client
// id carries the hash tag of its organization, so a client's record and its organization's index
// always share a slot and one MULTI or script can write both.

const tagLength = 6;
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
  const match = generatedClientIdPattern.exec(clientId);
  return match?.[1] ?? hashTag(`client:${clientId}`);
}

/** ParsedKey is what a key under the prefix holds, as `KeyLayout.parse` tells it. */
export type ParsedKey =
  | { readonly kind: "client"; readonly clientId: string }
  | { readonly kind: "secret-use"; readonly clientId: string }
  | { readonly kind: "organization-index"; readonly organizationId: string }
  | { readonly kind: "create-request"; readonly organizationId: string; readonly requestKey: string }
  | { readonly kind: "assertion-use"; readonly clientId: string; readonly digest: string }
  | { readonly kind: "revoked-tokens" }
  | { readonly kind: "revoked-by"; readonly organizationId: string }
  | { readonly kind: "auth-failures"; readonly digest: string }
  | { readonly kind: "resource-servers"; readonly part: ResourceServerKeyPart }
  | { readonly kind: "state"; readonly name: string };

/** ResourceServerKeyPart names one of the registry's keys (see KeyLayout.resourceServers). */
export type ResourceServerKeyPart = "records" | "audiences" | "index";

const resourceServerParts: readonly ResourceServerKeyPart[] = ["records", "audiences", "index"];

/** KeyLayout names every Redis key the store uses, under one prefix. */
export interface KeyLayout {
  /** prefix starts every key. */
  readonly prefix: string;
  /** client is the key of a client record (protobuf `ClientRecord`). */
  client(clientId: string): string;
  /** secretUse is the hash of a client's secrets' last-use times (secret id → ms). */
  secretUse(clientId: string): string;
  /** organizationIndex is the sorted set of an organization's clients, ordered by creation. */
  organizationIndex(organizationId: string): string;
  /** createRequest is the key of an idempotent create's kept answer, in its organization's slot (it expires). */
  createRequest(organizationId: string, requestKey: string): string;
  /**
   * assertionUse is the key marking a one-time id a client used (it expires): `digest` is the
   * id's SHA-256, base64url, so any id makes a short key; in the client's slot.
   */
  assertionUse(clientId: string, digest: string): string;
  /**
   * revokedTokens is the sorted set of revoked tokens' ids, scored by when each denial ends (ms):
   * one key, so the list can be read whole (it expires with its last entry).
   */
  readonly revokedTokens: string;
  /**
   * revokedBy is the sorted set of an organization's live revocations (the same jti and ends as
   * in revokedTokens), which bounds its share of the list; in the list's slot, so one script
   * writes both.
   */
  revokedBy(organizationId: string): string;
  /**
   * authFailures is the sorted set of a counted name's failed client authentications (it
   * expires): the name's SHA-256, base64url, so a made-up client id makes a short key; every such
   * key in one slot, so one script counts a client id and an address together.
   */
  authFailures(name: string): string;
  /**
   * resourceServers are the registry's keys, all under one hash tag so its writes are atomic on a
   * Cluster: `records` (hash: id → protobuf ResourceServer), `audiences` (hash: audience → id, what
   * keeps audiences unique) and `index` (sorted set of create-time members, the list's order).
   */
  readonly resourceServers: Readonly<Record<ResourceServerKeyPart, string>>;
  /** clientMatch is the SCAN pattern of client record keys (it may match others: parse each key). */
  readonly clientMatch: string;
  /** state is the key of a named issuer state value. */
  state(name: string): string;
  /** clientChanges is the pub/sub channel where writes announce the client ids they changed. */
  readonly clientChanges: string;
  /** match is the SCAN pattern of every key under the prefix (glob characters escaped). */
  readonly match: string;
  /** parse tells which key `key` is, or undefined for a key this layout never names (another tag, kind or prefix). */
  parse(key: string): ParsedKey | undefined;
}

// `{tag}:rest` after the prefix; the rest names the kind. Organization ids hold no `:`
// (validate.ts); client ids may, so a client's id is all the rest of its key.
const taggedKey = /^\{([^{}]*)\}:(.*)$/s;
const kinds: readonly [RegExp, (id: string, more: string) => ParsedKey][] = [
  [/^client:(.+)$/s, (clientId) => ({ kind: "client", clientId })],
  [/^client-used:(.+)$/s, (clientId) => ({ kind: "secret-use", clientId })],
  [/^org:([^:]+):clients$/s, (organizationId) => ({ kind: "organization-index", organizationId })],
  [/^org:([^:]+):create-request:(.+)$/s, (organizationId, requestKey) => ({ kind: "create-request", organizationId, requestKey })],
  [/^assertion-used:(.+):([A-Za-z0-9_-]{43})$/s, (clientId, digest) => ({ kind: "assertion-use", clientId, digest })],
];

/** assertionIdDigest is the digest `assertionUse` keys a one-time id by. */
export function assertionIdDigest(id: string): string {
  return createHash("sha256").update(id).digest("base64url");
}

/** createKeyLayout returns the key names under `prefix` (e.g. `m2m:`). */
export function createKeyLayout(prefix: string): KeyLayout {
  const escaped = prefix.replace(/[*?[\]\\]/g, "\\$&");
  const layout: KeyLayout = {
    prefix,
    client: (clientId) => `${prefix}{${clientTag(clientId)}}:client:${clientId}`,
    secretUse: (clientId) => `${prefix}{${clientTag(clientId)}}:client-used:${clientId}`,
    organizationIndex: (organizationId) => `${prefix}{${organizationTag(organizationId)}}:org:${organizationId}:clients`,
    createRequest: (organizationId, requestKey) => `${prefix}{${organizationTag(organizationId)}}:org:${organizationId}:create-request:${requestKey}`,
    assertionUse: (clientId, digest) => `${prefix}{${clientTag(clientId)}}:assertion-used:${clientId}:${digest}`,
    // A tag of its own (7 letters, so never an organization's 6): the deny list is one slot.
    revokedTokens: `${prefix}{revoked}:revoked-tokens`,
    revokedBy: (organizationId) => `${prefix}{revoked}:revoked-by:${organizationId}`,
    authFailures: (name) => `${prefix}{auth-failures}:${createHash("sha256").update(name).digest("base64url")}`,
    // A tag of its own, with a `-`, so never an organization's base32 tag: the registry is one slot.
    resourceServers: {
      records: `${prefix}{resource-servers}:records`,
      audiences: `${prefix}{resource-servers}:audiences`,
      index: `${prefix}{resource-servers}:index`,
    },
    clientMatch: `${escaped}{*}:client:*`,
    state: (name) => `${prefix}{state}:${name}`,
    clientChanges: `${prefix}client-changes`,
    match: `${escaped}*`,
    parse(key) {
      if (!key.startsWith(prefix)) return undefined;
      const tagged = taggedKey.exec(key.slice(prefix.length));
      if (!tagged) return undefined;
      const [, tag, rest] = tagged as unknown as [string, string, string];
      if (tag === "state") return rest === "" ? undefined : { kind: "state", name: rest };
      if (tag === "revoked") {
        if (rest === "revoked-tokens") return { kind: "revoked-tokens" };
        const by = /^revoked-by:([A-Za-z0-9_-]{1,64})$/.exec(rest)?.[1];
        return by === undefined ? undefined : { kind: "revoked-by", organizationId: by };
      }
      if (tag === "auth-failures") return /^[A-Za-z0-9_-]{43}$/.test(rest) ? { kind: "auth-failures", digest: rest } : undefined;
      if (tag === "resource-servers") {
        const part = resourceServerParts.find((name) => name === rest);
        return part === undefined ? undefined : { kind: "resource-servers", part };
      }
      for (const [pattern, parsed] of kinds) {
        const match = pattern.exec(rest);
        if (match?.[1] === undefined) continue;
        const found = parsed(match[1], match[2] ?? "");
        // The key must be the very one the layout names (right tag for its id), else it is unknown.
        return nameOf(layout, found) === key ? found : undefined;
      }
      return undefined;
    },
  };
  return layout;
}

function nameOf(layout: KeyLayout, key: ParsedKey): string {
  switch (key.kind) {
    case "client":
      return layout.client(key.clientId);
    case "secret-use":
      return layout.secretUse(key.clientId);
    case "organization-index":
      return layout.organizationIndex(key.organizationId);
    case "create-request":
      return layout.createRequest(key.organizationId, key.requestKey);
    case "assertion-use":
      return layout.assertionUse(key.clientId, key.digest);
    case "revoked-tokens":
      return layout.revokedTokens;
    case "revoked-by":
      return layout.revokedBy(key.organizationId);
    case "auth-failures":
      return `${layout.prefix}{auth-failures}:${key.digest}`;
    case "resource-servers":
      return layout.resourceServers[key.part];
    case "state":
      return layout.state(key.name);
  }
}
