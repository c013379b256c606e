import { randomBytes } from "node:crypto";
import { BlockList, isIPv4, isIPv6 } from "node:net";
import type { RequestOrigin } from "../rpc/request-origin.js";
import type { HttpRequest } from "./exchange.js";

// Each request gets an id and a source address once, at the edge; audit events, throttling and the
// `x-request-id` answer header all read these. A caller's own X-Request-Id is kept when it is a
// plain token (so a trace crosses services), and replaced otherwise: it ends up in logs.

const requestIdPattern = /^[\w.:@/+=-]{1,128}$/;

/** TrustedProxies says which peers' X-Forwarded-For is believed (M2M_TRUSTED_PROXIES). */
export interface TrustedProxies {
  /** trusts is true when `address` is a configured proxy. */
  trusts(address: string): boolean;
}

/** noTrustedProxies believes no X-Forwarded-For: the peer's address is the source. */
export const noTrustedProxies: TrustedProxies = { trusts: () => false };

/** unmapped turns an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, how a dual-stack socket reports IPv4) into the IPv4 address. */
export function unmapped(address: string): string {
  return address.startsWith("::ffff:") && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * createTrustedProxies reads a list of addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`,
 * `127.0.0.1`); a malformed entry throws a TypeError naming it.
 */
export function createTrustedProxies(entries: readonly string[]): TrustedProxies {
  if (entries.length === 0) return noTrustedProxies;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", bits, extra] = entry.split("/");
    const type = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = type === "ipv4" ? 32 : 128;
    if (type === undefined || extra !== undefined || (prefix !== undefined && (!/^\d{1,3}$/.test(bits ?? "") || prefix > max))) {
      throw new TypeError(`trusted proxy "${entry}" is not an IP address or CIDR range`);
    }
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return {
    trusts(address) {
      const plain = unmapped(address);
      const type = isIPv4(plain) ? "ipv4" : isIPv6(plain) ? "ipv6" : undefined;
      return type !== undefined && list.check(plain, type);
    },
  };
}

/**
 * sourceAddressOf is the peer's address; when the peer is a trusted proxy, the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy (entries to its left are the client's
 * own claims, which anyone can write).
 */
export function sourceAddressOf(req: HttpRequest, proxies: TrustedProxies): string {
  // A request whose answer was sent has no socket any more (node sets it to null).
  let address = unmapped((req.socket as HttpRequest["socket"] | null)?.remoteAddress ?? "");
  if (!proxies.trusts(address)) return address;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((hop) => unmapped(hop.trim()));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!isIPv4(hop) && !isIPv6(hop)) break;
    address = hop;
    if (!proxies.trusts(hop)) break;
  }
  return address;
}

// A request id must be unique, not secret: a random tag per process and a counter make one in
// tens of nanoseconds (randomBytes per request cost ~4 µs, which the token path would see).
const processTag = randomBytes(6).toString("base64url");
let counter = 0;

/** newRequestId returns an id no other request of any process has: this process's random tag and a counter. */
export function newRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${processTag}${counter.toString(36)}`;
}

/**
 * createOrigin makes a request's origin: the caller's plain X-Request-Id or a new id (a counter:
 * a token issued pays no random bytes for it), and the source address.
 */
export function createOrigin(req: HttpRequest, proxies: TrustedProxies): RequestOrigin {
  const sent = req.headers["x-request-id"];
  const requestId = typeof sent === "string" && requestIdPattern.test(sent) ? sent : newRequestId();
  // Read now, while the request holds its socket: node detaches it once the answer is sent.
  return { requestId, sourceAddress: sourceAddressOf(req, proxies) };
}

const origins = new WeakMap<HttpRequest, RequestOrigin>();

/** keepOrigin remembers `origin` for `req`, for originOfRequest (the RPC adapter's context values). */
export function keepOrigin(req: HttpRequest, origin: RequestOrigin): void {
  origins.set(req, origin);
}

/** originOfRequest returns the origin kept for the request, or makes one. */
export function originOfRequest(req: HttpRequest, proxies: TrustedProxies): RequestOrigin {
  return origins.get(req) ?? createOrigin(req, proxies);
}
