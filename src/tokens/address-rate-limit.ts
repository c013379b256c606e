import { ResourceExhaustedError } from "../errors.js";

// ValidateToken is public (a resource server asks it without credentials of its own) and verifies
// a signature per call: this bounds what one source address can make a process spend on it. A
// token bucket per address, per process (no round trip: the call is cheap and the bound is on
// this process's own work), of `perSecond` tokens refilled each second; the addresses held are
// bounded, the ones idle longest dropped first.

/**
 * defaultValidateTokenPerSecond (M2M_VALIDATE_TOKEN_PER_SECOND) is high enough for a resource
 * server that asks per request from one address (a process verifies a few thousand a second), low
 * enough that one address cannot take a process's every core.
 */
export const defaultValidateTokenPerSecond = 1000;

/** AddressRateLimit refuses an address past its rate. */
export interface AddressRateLimit {
  /** take spends one call of `address` ("" is never limited: an in-process call), or throws ResourceExhaustedError. */
  take(address: string): void;
}

/** AddressRateLimitOptions configures createAddressRateLimit. */
export interface AddressRateLimitOptions {
  /** perSecond is the calls an address may make per second, and its burst; 0: no limit. */
  perSecond: number;
  /** what names the call in the refusal's message. */
  what: string;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
  /** maxAddresses bounds the addresses held; default 10,000. */
  maxAddresses?: number;
}

/** createAddressRateLimit returns a per-address token bucket; a bad option throws a TypeError. */
export function createAddressRateLimit(options: AddressRateLimitOptions): AddressRateLimit {
  const { perSecond, what } = options;
  if (!Number.isSafeInteger(perSecond) || perSecond < 0) throw new TypeError("createAddressRateLimit: perSecond must be a non-negative integer");
  const now = options.now ?? Date.now;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(address) {
      if (perSecond === 0 || address === "") return;
      const at = now();
      const held = buckets.get(address);
      const tokens = held === undefined ? perSecond : Math.min(perSecond, held.tokens + ((at - held.at) / 1000) * perSecond);
      buckets.delete(address);
      if (tokens < 1) {
        buckets.set(address, { tokens, at });
        throw new ResourceExhaustedError(`too many ${what} calls from this address: retry later`, (1 - tokens) / perSecond);
      }
      buckets.set(address, { tokens: tokens - 1, at });
      // Re-inserted on each call, so the first key is the address idle longest.
      if (buckets.size > maxAddresses) buckets.delete(buckets.keys().next().value as string);
    },
  };
}
