import type { SigningKeyRing } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { isRetired, maxPreviousKeys, publishTime, statusAt } from "./key-ring-record.js";

// A rotation makes the next key sign. A verifier knows that key only if it fetched the JWKS after
// the key was published: a verifier that obeys the JWKS `Cache-Control: max-age` has refetched
// once max-age has passed since then, and one that refetches on an unknown kid (this package's
// interceptor, jose) may do so once its cooldown (30 s by default in both) has passed since its
// last fetch. So the next key must have been published for the max-age, which must be at least
// that cooldown, before it may sign: one number is both the JWKS max-age and the rotation's wait.

/** defaultJwksMaxAgeSeconds is the JWKS `Cache-Control` max-age, and so the rotation wait: 5 minutes. */
export const defaultJwksMaxAgeSeconds = 300;

/** RotationWait is why a rotation now would break verifiers, and how long until it would not. */
export interface RotationWait {
  /** ms is the time left, > 0. */
  ms: number;
  /** reason says what is waited for, with the time left in seconds. */
  reason: string;
}

const seconds = (ms: number): number => Math.ceil(ms / 1000);

/**
 * rotationWait returns undefined when rotating `ring` at `now` breaks no verifier; otherwise what
 * to wait for: the next key published for `publishWindowMs` (the JWKS max-age plus how long
 * instances take to serve a ring written by another), and room for one more previous key without
 * dropping one whose tokens may still be valid (maxPreviousKeys).
 */
export function rotationWait(ring: SigningKeyRing, now: number, publishWindowMs: number): RotationWait | undefined {
  const next = statusAt(ring, 1) === "next" ? ring.keys[1] : undefined;
  if (next !== undefined) {
    const published = publishTime(next);
    const ms = published + publishWindowMs - now;
    if (ms > 0) {
      const age = Math.floor(Math.max(0, now - published) / 1000);
      return {
        ms,
        reason: `the next signing key was published ${age} s ago and verifiers may not have fetched it yet (JWKS max-age plus reload: ${seconds(publishWindowMs)} s); rotate again in ${seconds(ms)} s`,
      };
    }
  }
  const live = ring.keys
    .slice(2)
    .filter((record) => !isRetired(record, now))
    .map((record) => Number(record.retireTimeMs))
    .sort((a, b) => a - b);
  if (live.length >= maxPreviousKeys) {
    // One more previous key fits once enough of the oldest have retired.
    const ms = (live[live.length - maxPreviousKeys] as number) - now;
    if (ms > 0) {
      return {
        ms,
        reason: `the key ring holds ${live.length} previous keys whose tokens may still be valid (at most ${maxPreviousKeys} are kept); rotate again in ${seconds(ms)} s, when the oldest retires`,
      };
    }
  }
  return undefined;
}
