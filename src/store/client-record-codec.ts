import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type ClientRecord, ClientRecordSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { ResourceExhaustedError, UnavailableError } from "../errors.js";
import { maxJtiLength, organizationIdPattern } from "../rules.js";
import type { CreateRequest } from "./client-store.js";

// Both backends keep records as protobuf bytes and name index entries the same way, so the
// memory backend orders, pages and copies exactly as Redis does.

const timeDigits = 15;
const maxTimeMs = 10n ** BigInt(timeDigits) - 1n;

/** encodeRecord is the stored form of a record: a copy the caller can no longer change. */
export function encodeRecord(record: ClientRecord): Uint8Array {
  return toBinary(ClientRecordSchema, record);
}

/** decodeRecord reads a stored record into a fresh object the caller owns. */
export function decodeRecord(bytes: Uint8Array): ClientRecord {
  // fromBinary returns bytes fields (secret hashes) as views into its input: decode a copy, so
  // writing to a returned hash can never reach the stored bytes.
  return fromBinary(ClientRecordSchema, new Uint8Array(bytes));
}

/**
 * indexMember is a record's entry in its organization's index: the create time in ms,
 * zero-padded so byte order is time order, then the client id to break ties and find the record.
 */
export function indexMember(record: ClientRecord): string {
  const time = record.client?.createTime;
  let ms = time === undefined ? 0n : time.seconds * 1000n + BigInt(Math.floor(time.nanos / 1_000_000));
  // Out-of-range times are clamped rather than rejected: ordering degrades, storage still works.
  if (ms < 0n) ms = 0n;
  if (ms > maxTimeMs) ms = maxTimeMs;
  return `${ms.toString().padStart(timeDigits, "0")}:${record.client?.clientId ?? ""}`;
}

/** memberClientId is the client id an index member points at. */
export function memberClientId(member: string): string {
  return member.slice(timeDigits + 1);
}

/** recordIds returns a record's client and organization ids, throwing TypeError without a client id. */
export function recordIds(record: ClientRecord): { clientId: string; organizationId: string } {
  const clientId = record.client?.clientId ?? "";
  if (clientId === "") throw new TypeError("record.client.client_id is required");
  return { clientId, organizationId: record.client?.organizationId ?? "" };
}

/** checkLimit throws TypeError unless `limit` is a positive integer. */
export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError("limit must be a positive integer");
}

/** compareBytes orders strings by their UTF-8 bytes, as Redis orders sorted-set members by lex. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** checkRevocationOwner throws TypeError unless `organizationId` is "" (the environment's) or an organization id. */
export function checkRevocationOwner(organizationId: string): void {
  if (organizationId !== "" && !organizationIdPattern.test(organizationId)) throw new TypeError("revoke: organizationId must be an organization id or empty");
}

/** checkCreateRequest throws TypeError unless `request` can be kept for a client of `organizationId`. */
export function checkCreateRequest(organizationId: string, request: CreateRequest): void {
  // A system client has no organization, so no slot to keep its request in.
  if (organizationId === "") throw new TypeError("createOnce: a system client (no organization) takes no create request");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(request?.key ?? "")) throw new TypeError("createOnce: request.key must be 1-64 characters of base64url");
  if (!(request.bytes instanceof Uint8Array)) throw new TypeError("createOnce: request.bytes must be bytes");
  if (!Number.isSafeInteger(request.ttlMs) || request.ttlMs < 1) throw new TypeError("createOnce: request.ttlMs must be a positive integer");
}

/**
 * maxLiveRevocations bounds the deny list (revocations are rare: an operator cutting off a leaked
 * token). Past it a new revocation is refused with UnavailableError (RFC 7009 §2.2.1: 503, the
 * token stays valid, retry later) rather than dropping an older denial or listing a partial
 * document. 3,000 entries of the longest jti (256) still list in under the interceptor's 1 MiB.
 */
export const maxLiveRevocations = 3000;

/**
 * maxLiveRevocationsPerOrganization bounds one tenant's share of the deny list: a client may
 * revoke every token it gets, and none may fill the list for the others. Past it the
 * organization's revocations are refused (ResourceExhaustedError, 429) until some of its own expire.
 */
export const maxLiveRevocationsPerOrganization = 300;

/**
 * revocationReserve is kept for the environment's own revocations (its admin's, no organization):
 * organizations' revocations stop at maxLiveRevocations minus it, so an operator can always cut
 * off a leaked token, however many tenants revoke at once.
 */
export const revocationReserve = 500;

/** revocationListFull is the error of a revocation past the list's bound: retryable, as denials expire. */
export function revocationListFull(): UnavailableError {
  return new UnavailableError(`the revocation list is full (${maxLiveRevocations} live revocations); retry once some expire`);
}

/** organizationRevocationsFull is the error of an organization's revocation past its share; retry once its soonest denial ends. */
export function organizationRevocationsFull(organizationId: string, retryAfterMs: number): ResourceExhaustedError {
  return new ResourceExhaustedError(
    `organization ${organizationId} holds ${maxLiveRevocationsPerOrganization} live revocations, the most one organization may: delete the client or its secret to cut off its tokens, or retry once some expire`,
    retryAfterMs / 1000,
  );
}

/** checkRevocation refuses a revocation no backend should store: an empty or huge `jti`, a TTL that is not a positive integer. */
export function checkRevocation(jti: string, ttlMs?: number): void {
  if (typeof jti !== "string" || jti.length === 0 || jti.length > maxJtiLength) throw new TypeError(`revocations: jti must be 1-${maxJtiLength} characters`);
  if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs < 1)) throw new TypeError("revocations: ttlMs must be a positive integer");
}

/** removedSecretIds lists the secrets `current` holds and `next` does not: their use times must go. */
export function removedSecretIds(current: ClientRecord, next: ClientRecord): string[] {
  const kept = new Set(next.secretHashes.map((hash) => hash.secretId));
  return current.secretHashes.map((hash) => hash.secretId).filter((id) => !kept.has(id));
}

/** holdsSecret reports whether a record still holds the secret `secretId`. */
export function holdsSecret(record: ClientRecord, secretId: string): boolean {
  return record.secretHashes.some((hash) => hash.secretId === secretId);
}

/** checkSameIdentity throws TypeError if an update changed what places a record (id, organization, create time). */
export function checkSameIdentity(current: ClientRecord, next: ClientRecord): void {
  if (indexMember(current) !== indexMember(next) || current.client?.organizationId !== next.client?.organizationId) {
    throw new TypeError("update must keep the client id, organization and create time");
  }
}
