import { createHash } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { openBytes, sealBytes } from "../keys/key-encryption.js";
import type { StateParts } from "./state-values.js";

// When an instance finds the state it holds gone from the store, it offers its in-memory copy
// under a field map of its own ("restore candidates"), one field per instance, never as the live
// state: only `npm run store:init -- --restore` writes the live state back, once the offers agree.
// An offer carries the secret-hash key, so it is sealed whole with M2M_KEY_ENCRYPTION_KEY when set
// (without it, private signing keys and that key are kept in clear anyway).

/** restoreCandidatesStateName is the state store field map of the offers: instance id → offer. */
export const restoreCandidatesStateName = "restore-candidates";

const sealContext = "m2m-auth restore candidate";

/** RestoreCandidate is one instance's offer: the state it holds. */
export interface RestoreCandidate {
  instance: string;
  offerTime: string;
  parts: StateParts;
}

const b64 = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : Buffer.from(bytes).toString("base64"));
const unb64 = (text: unknown): Uint8Array | undefined => (typeof text === "string" ? new Uint8Array(Buffer.from(text, "base64")) : undefined);

/** encodeCandidate returns an offer's stored bytes, sealed under `encryptionKey` when given. */
export function encodeCandidate(candidate: RestoreCandidate, encryptionKey: Uint8Array | undefined): Uint8Array {
  const { marker, hashKey, ring, admin } = candidate.parts;
  const inner = new TextEncoder().encode(
    JSON.stringify({
      instance: candidate.instance,
      offerTime: candidate.offerTime,
      marker: b64(marker),
      hashKey: b64(hashKey),
      ring: b64(ring),
      admin: b64(admin),
    }),
  );
  const outer =
    encryptionKey === undefined
      ? { format: 1, sealed: false, data: b64(inner) }
      : { format: 1, sealed: true, data: b64(sealBytes(inner, encryptionKey, sealContext)) };
  return new TextEncoder().encode(JSON.stringify(outer));
}

/** decodeCandidate reads an offer; it throws when it is malformed or sealed and `encryptionKey` cannot open it. */
export function decodeCandidate(bytes: Uint8Array, encryptionKey: Uint8Array | undefined): RestoreCandidate {
  const outer = JSON.parse(new TextDecoder().decode(bytes)) as { format?: number; sealed?: boolean; data?: string };
  const data = unb64(outer.data);
  if (outer.format !== 1 || data === undefined) throw new Error("not a restore candidate this version can read");
  if (outer.sealed && encryptionKey === undefined) throw new Error("the offer is encrypted: set M2M_KEY_ENCRYPTION_KEY");
  const inner = JSON.parse(new TextDecoder().decode(outer.sealed ? openBytes(data, encryptionKey as Uint8Array, sealContext) : data)) as Record<
    string,
    unknown
  >;
  const parts: StateParts = { marker: unb64(inner["marker"]), hashKey: unb64(inner["hashKey"]), ring: unb64(inner["ring"]), admin: unb64(inner["admin"]) };
  if (parts.marker === undefined || parts.ring === undefined || parts.admin === undefined) throw new Error("the offer lacks part of the state");
  return { instance: String(inner["instance"]), offerTime: String(inner["offerTime"]), parts };
}

/**
 * identityOf digests what must be the same on every instance for their offers to agree: marker
 * (hence generation and secret-hash key identity), stored secret-hash key and admin. The ring
 * may legitimately be one rotation apart (see chooseCandidate).
 */
export function identityOf(candidate: RestoreCandidate): string {
  const hash = createHash("sha256");
  for (const part of [candidate.parts.marker, candidate.parts.hashKey, candidate.parts.admin]) {
    hash
      .update(String(part?.length ?? -1))
      .update(":")
      .update(part ?? new Uint8Array());
  }
  return hash.digest("hex").slice(0, 16);
}

/** ringSummary describes an offer's key ring: its version and current key. */
export function ringSummary(candidate: RestoreCandidate): { version: bigint; current: string; kids: string[] } {
  const ring = fromBinary(SigningKeyRingSchema, candidate.parts.ring as Uint8Array);
  const kids = ring.keys.map((key) => key.kid);
  return { version: ring.version, current: kids[0] ?? "", kids };
}

/**
 * chooseCandidate picks the offer to restore: the one named `from`, or, when every offer has the
 * same identity, the one with the newest ring, provided it still holds every other offer's
 * current key (an instance that had not yet reloaded a rotation holds an older ring). Otherwise
 * it names why it refuses.
 */
export function chooseCandidate(candidates: readonly RestoreCandidate[], from?: string): { chosen: RestoreCandidate } | { refusal: string } {
  if (from !== undefined) {
    const named = candidates.find((candidate) => candidate.instance === from);
    return named ? { chosen: named } : { refusal: `no offer from instance ${from}` };
  }
  if (candidates.length === 0) return { refusal: "no running instance has offered the state it holds" };
  const identities = new Set(candidates.map(identityOf));
  if (identities.size > 1) return { refusal: `the instances' offers disagree (${identities.size} different states): choose one with --from <instance>` };
  const rings = candidates.map((candidate) => ({ candidate, ...ringSummary(candidate) }));
  const newest = rings.reduce((best, ring) => (ring.version > best.version ? ring : best));
  const strays = rings.filter((ring) => !newest.kids.includes(ring.current));
  if (strays.length > 0)
    return {
      refusal: `the instances' signing key rings disagree (${strays.map((ring) => ring.candidate.instance).join(", ")}): choose one with --from <instance>`,
    };
  return { chosen: newest.candidate };
}
