import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientCreateRequestSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { OrganizationClientSchema, type M2MClient, type OrganizationClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { FailedPreconditionError, InvalidArgumentError, RequestIdReusedError } from "../errors.js";
import type { SecretHasher } from "./secret-hasher.js";

// Idempotent creates (AIP-155 `request_id`; REST: draft-ietf-httpapi-idempotency-key-header). A
// create's answer, plain secret included, is kept with the record for a short window, so a retry
// of a create whose answer was lost replays it instead of registering a second client. The
// secret is kept only as AES-256-GCM ciphertext (NIST SP 800-38D: 96-bit random nonce, 128-bit
// tag appended), under a key derived from M2M_KEY_ENCRYPTION_KEY when set (which Redis never
// holds), else from the store's secret-hash key (the same trust as the records' hashes).

/**
 * createRequestWindowMs is how long a create's answer is kept: an hour covers a caller's retries
 * through an outage or a restart (Google's APIs keep a request_id at least 60 minutes), yet the
 * encrypted one-time secret is gone from the store soon after.
 */
export const createRequestWindowMs = 3_600_000;

// AIP-155 recommends a UUID; any caller-made id of this alphabet will do. Bounded and plain, so
// it can never be anything but an opaque value (the draft's §5 asks for a published format).
const requestIdPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/** checkRequestId throws InvalidArgumentError unless `requestId` is a well-formed request id. */
export function checkRequestId(requestId: string): void {
  if (!requestIdPattern.test(requestId)) {
    throw new InvalidArgumentError(
      "request_id",
      "(REST: the Idempotency-Key header) must be 1 to 128 characters of A-Z a-z 0-9 _ . : - (a UUID is recommended)",
    );
  }
}

/** CreateAnswer is what a create returns: the client and its only plain secret. */
export interface CreateAnswer {
  client: M2MClient;
  plainSecret: string;
}

/** Idempotency keeps and replays the answers of idempotent creates. */
export interface Idempotency {
  /**
   * requestKey names a caller's request id (a hash: fixed length, nothing to inject); the caller
   * is part of it, so one caller can never replay another's answer.
   */
  requestKey(callerId: string, requestId: string): string;
  /** fingerprint is a digest of what was asked: the organization and the client's fields. */
  fingerprint(organizationId: string, input: OrganizationClient | undefined): Uint8Array;
  /** seal returns the bytes to keep for `answer`, its secret encrypted. */
  seal(requestKey: string, fingerprint: Uint8Array, answer: CreateAnswer): Uint8Array;
  /**
   * open returns the kept answer; it throws RequestIdReusedError when `fingerprint` differs from
   * the kept one, and FailedPreconditionError when the secret cannot be decrypted any more.
   */
  open(requestKey: string, fingerprint: Uint8Array, kept: Uint8Array): CreateAnswer;
}

/** idempotencyKey derives the 32-byte key that encrypts kept secrets (HKDF-SHA-256, RFC 5869). */
export function idempotencyKey(keyEncryptionKey: Uint8Array | undefined, hasher: SecretHasher): Uint8Array {
  const secret = keyEncryptionKey ?? hasher.derive("create-request-secret");
  return new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), "m2m-auth:create-request-secret", 32));
}

const nonceBytes = 12;
const tagBytes = 16;

// The ciphertext is bound to its request and client: moved onto another, it does not open.
const aadOf = (requestKey: string, clientId: string): Buffer => Buffer.from(`${requestKey}\n${clientId}`, "utf8");

/** createIdempotency returns the keeper of create answers, encrypting secrets under `key` (32 bytes). */
export function createIdempotency(options: { key: Uint8Array }): Idempotency {
  if (!(options?.key instanceof Uint8Array) || options.key.length !== 32) throw new TypeError("createIdempotency: options.key must be 32 bytes");
  const key = Buffer.from(options.key);
  return {
    requestKey: (callerId, requestId) => createHash("sha256").update(`${callerId}\n${requestId}`, "utf8").digest("base64url"),

    fingerprint(organizationId, input) {
      const fields = toBinary(OrganizationClientSchema, input ?? create(OrganizationClientSchema));
      return new Uint8Array(createHash("sha256").update(`${organizationId}\n`, "utf8").update(fields).digest());
    },

    seal(requestKey, fingerprint, { client, plainSecret }) {
      const nonce = randomBytes(nonceBytes);
      const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
      cipher.setAAD(aadOf(requestKey, client.clientId));
      const sealed = Buffer.concat([cipher.update(plainSecret, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return toBinary(ClientCreateRequestSchema, create(ClientCreateRequestSchema, { fingerprint, client, sealedSecret: sealed, secretNonce: nonce }));
    },

    open(requestKey, fingerprint, kept) {
      const record = fromBinary(ClientCreateRequestSchema, kept);
      if (!Buffer.from(record.fingerprint).equals(Buffer.from(fingerprint))) throw new RequestIdReusedError();
      const client = record.client as M2MClient;
      const data = Buffer.from(record.sealedSecret);
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, record.secretNonce, { authTagLength: tagBytes });
        decipher.setAAD(aadOf(requestKey, client.clientId));
        decipher.setAuthTag(data.subarray(data.length - tagBytes));
        const plainSecret = Buffer.concat([decipher.update(data.subarray(0, data.length - tagBytes)), decipher.final()]).toString("utf8");
        return { client, plainSecret };
      } catch {
        // E.g. M2M_KEY_ENCRYPTION_KEY changed within the window. The client exists; only its
        // secret cannot be shown again, and creating another would be the duplicate avoided here.
        throw new FailedPreconditionError(
          `request_id: the first answer (client ${client.clientId}) can no longer be decrypted; delete that client if unwanted, and use a new request_id`,
        );
      }
    },
  };
}
