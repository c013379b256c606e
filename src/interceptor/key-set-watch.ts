// Follows the key sets a key source yields, to tell when a key has left: the issuer rotated it
// out or revoked it (RFC 7517 §5, a set's keys may change at any time).
import type { JSONWebKeySet } from "jose";
import { identityOf } from "./jwk-identity.js";

/** KeySetWatch records the newest key set read and what it holds. */
export interface KeySetWatch {
  /**
   * read calls `get` and records the set it returns, unless a read started later has already
   * recorded one (reads may finish out of order); it returns what `get` returned.
   */
  read(get: () => Promise<JSONWebKeySet | undefined>): Promise<JSONWebKeySet | undefined>;
  /** holds reports whether the newest set recorded has a key with this identityOf. */
  holds(identity: string): boolean;
}

/**
 * createKeySetWatch returns a watch that calls `onKeysRemoved` when a newly recorded set lacks a
 * key of the one before (a dropped or replaced key). A source that returns the same object until
 * its set changes costs one comparison per read.
 */
export function createKeySetWatch(onKeysRemoved: () => void): KeySetWatch {
  let started = 0;
  let newest: { stamp: number; set: JSONWebKeySet; ids: Set<string> } | undefined;

  function record(set: JSONWebKeySet, stamp: number): void {
    if (newest !== undefined && stamp < newest.stamp) return;
    if (newest?.set === set) {
      newest.stamp = stamp;
      return;
    }
    const ids = new Set(set.keys.map(identityOf));
    const before = newest?.ids;
    newest = { stamp, set, ids };
    if (before === undefined) return;
    for (const id of before) {
      if (!ids.has(id)) return onKeysRemoved();
    }
  }

  return {
    async read(get) {
      const stamp = ++started;
      const set = await get();
      if (set !== undefined) record(set, stamp);
      return set;
    },
    holds: (identity) => newest?.ids.has(identity) ?? false,
  };
}
