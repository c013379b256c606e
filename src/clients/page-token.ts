import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";

/**
 * PageTokens seals a store cursor into an opaque page token bound to one organization, so a
 * token cannot be forged, edited, or replayed against another organization (tamper-evident).
 */
export interface PageTokens {
  /** seal returns the page token for `cursor` in `organizationId`. */
  seal(organizationId: string, cursor: string): string;
  /** open returns the cursor of a page token, or throws `invalid_argument` naming `page_token`. */
  open(organizationId: string, token: string): string;
}

/** createPageTokens returns page tokens authenticated with HMAC-SHA-256 under `key`. */
export function createPageTokens(options: { key: Uint8Array }): PageTokens {
  if (!(options?.key instanceof Uint8Array) || options.key.length < 32) {
    throw new TypeError("createPageTokens: options.key must be at least 32 bytes");
  }
  const key = Buffer.from(options.key);
  const mac = (organizationId: string, cursor: string) => createHmac("sha256", key).update(organizationId).update("\0").update(cursor).digest().subarray(0, 16);
  return {
    seal(organizationId, cursor) {
      return `${Buffer.from(cursor).toString("base64url")}.${mac(organizationId, cursor).toString("base64url")}`;
    },
    open(organizationId, token) {
      const [body, tag, extra] = token.split(".");
      if (token.length > 512 || body === undefined || tag === undefined || extra !== undefined) {
        throw new InvalidArgumentError("page_token", "is not a page token from this list");
      }
      const cursor = Buffer.from(body, "base64url").toString();
      const given = Buffer.from(tag, "base64url");
      const expected = mac(organizationId, cursor);
      // Only the canonical encoding is accepted: base64 has spare bits, so a token edited in them
      // would otherwise decode to the same bytes and pass as untouched.
      const canonical = given.toString("base64url") === tag && Buffer.from(cursor).toString("base64url") === body;
      if (!canonical || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new InvalidArgumentError("page_token", "is not a page token from this list");
      }
      return cursor;
    },
  };
}
