import type { AuditLog } from "../audit.js";
import { InvalidClientError, ResourceExhaustedError } from "../errors.js";
import type { CountedName, FailureLimiter } from "../store/failure-limiter.js";
import { loggableId, type AuthenticatedClient, type CallOrigin, type ClientAuthenticator } from "./authenticate.js";

// Failed client authentication is limited per client id and source address together, per client
// id, and per source address, over a sliding
// window counted in the store (store/failure-limiter.ts: one script call per failure, shared by
// every instance and worker). Only failures are counted, so a success costs two Map lookups and
// no round trip. Each failure's round trip returns the shared counts; a count at its limit
// becomes a block this process keeps (pair, client id or address → until) and checks before
// anything else, so a blocked request is refused before its secret is looked at: a block cannot
// be used to test guesses. An instance that has not yet seen a block learns it with its next
// failure: at most one extra guess per process per window.
//
// An attacker must not be able to lock an owner out for good: the window is bounded, refused
// (blocked) attempts are not counted, so a block ends at most one window after the last counted
// failure; and the pair's limit is below a client id's, so a single address is blocked for that
// id before it can block the id for everyone. The lowest limit is the pair's (as Auth0's
// brute-force protection): a client with a wrong secret behind a shared egress address (a NAT, a
// cluster's nodes) blocks itself there, not the other clients behind the same address; the
// per-address limit, higher, stops one address spraying guesses across many client ids.

/**
 * failureFloorMs is the least time a failed authentication takes to answer. Every kind of failure
 * does the same work (authenticate.ts), but what is left of a difference (a record decoded, an
 * await more) must not reach the caller: each failure is answered no sooner than this, measured
 * on the monotonic clock. Only failures wait; a client with a wrong secret is broken anyway.
 */
export const failureFloorMs = 10;

/** AuthThrottleLimits are the failed-authentication limits (M2M_AUTH_FAILURE_*). */
export interface AuthThrottleLimits {
  /** windowSeconds is the sliding window (M2M_AUTH_FAILURE_WINDOW_SECONDS). */
  windowSeconds: number;
  /** perClientAddress is the failures for one client id from one address that block that pair (M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS); 0: no limit. */
  perClientAddress: number;
  /** perClient is the failures per client id in a window that block it (M2M_AUTH_FAILURES_PER_CLIENT); 0: no limit. */
  perClient: number;
  /** perAddress is the failures per source address in a window that block it (M2M_AUTH_FAILURES_PER_ADDRESS); 0: no limit. */
  perAddress: number;
}

/** defaultAuthThrottleLimits: in 60 s, 10 failures for a client id from one address, 50 for a client id, 100 from an address. */
export const defaultAuthThrottleLimits: AuthThrottleLimits = Object.freeze({ windowSeconds: 60, perClientAddress: 10, perClient: 50, perAddress: 100 });

/** AuthThrottleOptions configures throttleAuthentication. */
export interface AuthThrottleOptions {
  limiter: FailureLimiter;
  limits: AuthThrottleLimits;
  /** audit receives an `AuthenticateClient` event for each failed or refused attempt. */
  audit: AuditLog;
  /** adminClientId is the configured admin's id, named as it is in audit events (see loggableId). */
  adminClientId?: string | undefined;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
  /** maxBlocks bounds each map of blocks this process keeps (client ids, addresses); default 10,000. */
  maxBlocks?: number;
  /** onStoreError hears a failure that could not be counted (the store down): the attempt is still refused. */
  onStoreError?: (err: unknown) => void;
}

/** checkAuthThrottleLimits throws a TypeError naming a limit that cannot be honoured. */
export function checkAuthThrottleLimits(limits: AuthThrottleLimits, option = "limits"): void {
  const { windowSeconds, perClientAddress, perClient, perAddress } = limits;
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > 86_400) throw new TypeError(`${option}.windowSeconds must be 1 to 86400`);
  for (const [name, value] of [
    ["perClientAddress", perClientAddress],
    ["perClient", perClient],
    ["perAddress", perAddress],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0 || value > 10_000) throw new TypeError(`${option}.${name} must be 0 (off) to 10000`);
  }
  // Otherwise one address could block a client id for everyone, before its own block for that id.
  if (perClient > 0 && (perClientAddress === 0 || perClientAddress >= perClient)) {
    throw new TypeError(`${option}.perClientAddress must be set and below perClient (or perClient 0, off)`);
  }
}

/** createBlocks returns a bounded map of blocks: name → until (ms). */
function createBlocks(maxBlocks: number) {
  const until = new Map<string, number>();
  return {
    size: () => until.size,
    get: (name: string) => until.get(name),
    set(name: string, end: number, at: number) {
      until.delete(name);
      until.set(name, end);
      if (until.size <= maxBlocks) return;
      for (const [held, heldUntil] of until) if (heldUntil <= at) until.delete(held);
      // Still full of live blocks: the oldest goes (its name gets one more guess per process).
      if (until.size > maxBlocks) until.delete(until.keys().next().value as string);
    },
  };
}

/**
 * throttleAuthentication wraps `authenticator` with the failed-authentication limits: a blocked
 * client id or address is refused with ResourceExhaustedError (429, RESOURCE_EXHAUSTED) before
 * anything is checked; each `invalid_client` is counted, audited, and answered as it was.
 */
export function throttleAuthentication(authenticator: ClientAuthenticator, options: AuthThrottleOptions): ClientAuthenticator {
  const { limiter, limits, audit } = options;
  checkAuthThrottleLimits(limits);
  const now = options.now ?? Date.now;
  const windowMs = limits.windowSeconds * 1000;
  const blocks = createBlocks(options.maxBlocks ?? 10_000);

  function countedNames(clientId: string, origin: CallOrigin | undefined): CountedName[] {
    const names: CountedName[] = [];
    const address = origin?.sourceAddress ?? "";
    if (limits.perClientAddress > 0 && clientId !== "" && address !== "") names.push({ name: `pair:${address} ${clientId}`, limit: limits.perClientAddress });
    if (limits.perClient > 0 && clientId !== "") names.push({ name: `client:${clientId}`, limit: limits.perClient });
    if (limits.perAddress > 0 && address !== "") names.push({ name: `address:${address}`, limit: limits.perAddress });
    return names;
  }

  function event(clientId: string, origin: CallOrigin | undefined) {
    return {
      action: "AuthenticateClient",
      actor: {},
      target: clientId === "" ? undefined : { clientId: loggableId(clientId, options.adminClientId) },
      requestId: origin?.requestId,
      sourceAddress: origin?.sourceAddress,
    };
  }

  // A failure: audited, counted (one round trip), answered no sooner than the floor, rethrown.
  async function failed(err: unknown, clientId: string, origin: CallOrigin | undefined, at: number, started: number, held?: CountedName[]): Promise<never> {
    if (!(err instanceof InvalidClientError)) throw err;
    audit.record({ ...event(clientId, origin), outcome: "failure", code: "invalid_client", reason: err.message });
    const names = held ?? countedNames(clientId, origin);
    try {
      const counts = names.length === 0 ? [] : await limiter.recordFailure(names, windowMs, at);
      names.forEach(({ name, limit }, i) => {
        const count = counts[i];
        if (count !== undefined && count.count >= limit) blocks.set(name, count.oldestMs + windowMs, at);
      });
    } catch (storeErr) {
      // The attempt failed either way: it is refused as it was, uncounted (fail closed).
      options.onStoreError?.(storeErr);
    }
    const left = failureFloorMs - (performance.now() - started);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    throw err;
  }

  // Not an async function: a success is the check's own promise, with no frame or await added.
  function attempt(clientId: string, origin: CallOrigin | undefined, check: () => Promise<AuthenticatedClient>): Promise<AuthenticatedClient> {
    const started = performance.now();
    const at = now();
    // With no block held (the usual case) a success builds nothing: the names are made for a check or a failure only.
    let names: CountedName[] | undefined;
    let blockedUntil = 0;
    if (blocks.size() > 0) {
      names = countedNames(clientId, origin);
      for (const { name } of names) blockedUntil = Math.max(blockedUntil, blocks.get(name) ?? 0);
    }
    if (blockedUntil > at) {
      audit.record({ ...event(clientId, origin), outcome: "refused", code: "resource_exhausted", reason: "too many failed client authentications" });
      return Promise.reject(new ResourceExhaustedError("too many failed client authentications: retry later", (blockedUntil - at) / 1000));
    }
    // The authenticator's methods are async: a throw arrives as a rejection.
    return check().catch((err: unknown) => failed(err, clientId, origin, at, started, names));
  }

  return {
    authenticate: (clientId, clientSecret, origin) => attempt(clientId, origin, () => authenticator.authenticate(clientId, clientSecret, origin)),
    authenticateAssertion: (clientId, assertion, origin) => attempt(clientId, origin, () => authenticator.authenticateAssertion(clientId, assertion, origin)),
  };
}
