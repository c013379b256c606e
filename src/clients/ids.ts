import { randomBytes } from "node:crypto";
import { adminIdPrefix, clientIdPrefix } from "../rules.js";
import { organizationTag } from "../store/key-layout.js";

const base32 = "abcdefghijklmnopqrstuvwxyz234567";

// `length` characters of lowercase base32, 5 random bits each.
function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += base32[(bytes[i] as number) & 31];
  return out;
}

/**
 * newClientId returns an opaque client id, `m2morg_` + the organization's hash tag + 100 random
 * bits (rules.generatedClientIdPattern). The tag lets the store keep a client next to its
 * organization's index on Redis Cluster.
 */
export function newClientId(organizationId: string): string {
  return `${clientIdPrefix}${organizationTag(organizationId)}${randomBase32(20)}`;
}

/** newAdminId returns the id of a bootstrap admin client, `m2madmin_` + 100 random bits (rules.generatedAdminIdPattern). */
export function newAdminId(): string {
  return `${adminIdPrefix}${randomBase32(20)}`;
}

/** newSecretId returns an opaque secret id, `sks_` + 100 random bits. */
export function newSecretId(): string {
  return `sks_${randomBase32(20)}`;
}

/** newResourceServerId returns an opaque resource server id, `rs_` + 100 random bits. */
export function newResourceServerId(): string {
  return `rs_${randomBase32(20)}`;
}

/** secretPrefix starts every client secret, so secret scanners can recognize a leaked one. */
export const secretPrefix = "m2msk_";

/** newSecret returns a client secret: the prefix and 256 random bits, base64url (43 chars). */
export function newSecret(): string {
  return secretPrefix + randomBytes(32).toString("base64url");
}
