import { adminClientStateName } from "../clients/admin-client.js";
import { secretHashKeyStateName } from "../clients/secret-hasher.js";
import { keyRingStateName } from "../keys/key-ring.js";
import type { StateStore } from "../store/client-store.js";
import { storeMarkerStateName, type HashKeySource } from "./store-marker.js";

// The issuer's state as one thing: the marker and the three values it vouches for, read in one
// round trip, named the same way by the start, the watch and the operator command.

/** StateParts are the issuer's state values, as bytes; undefined where the store has none. */
export interface StateParts {
  marker?: Uint8Array | undefined;
  hashKey?: Uint8Array | undefined;
  ring?: Uint8Array | undefined;
  admin?: Uint8Array | undefined;
}

/** StatePart names one of them. */
export type StatePart = keyof StateParts;

/** statePartNames maps each part to its state store entry. */
export const statePartNames: Readonly<Record<StatePart, string>> = {
  marker: storeMarkerStateName,
  hashKey: secretHashKeyStateName,
  ring: keyRingStateName,
  admin: adminClientStateName,
};

const parts = Object.keys(statePartNames) as StatePart[];

/** statePartLabels are the parts as an operator reads them in messages. */
export const statePartLabels: Readonly<Record<StatePart, string>> = {
  marker: "store marker",
  hashKey: "secret-hash key",
  ring: "signing key ring",
  admin: "admin client",
};

/** readStateParts reads every part at one moment (MGET: they share the `{state}` slot). */
export async function readStateParts(state: StateStore): Promise<StateParts> {
  const values = await state.getMany(parts.map((part) => statePartNames[part]));
  return Object.fromEntries(parts.map((part, i) => [part, values[i]]));
}

/** missingParts lists the parts a complete state has and `values` lacks (no hash key is stored when it is configured). */
export function missingParts(values: StateParts, source: HashKeySource | undefined): StatePart[] {
  return parts.filter((part) => values[part] === undefined && !(part === "hashKey" && source === "configured"));
}

/** presentParts lists the parts `values` holds. */
export function presentParts(values: StateParts): StatePart[] {
  return parts.filter((part) => values[part] !== undefined);
}

/** expectParts turns read values into a commit's expectations: each part exactly as read. */
export function expectParts(values: StateParts): Map<string, Uint8Array | undefined> {
  return new Map(parts.map((part) => [statePartNames[part], values[part]]));
}

/** setParts turns values into a commit's writes (the parts given). */
export function setParts(values: StateParts): Map<string, Uint8Array> {
  return new Map(parts.flatMap((part) => (values[part] === undefined ? [] : [[statePartNames[part], values[part]]])));
}

/** labels names parts for a message: "store marker, admin client". */
export function labels(list: readonly StatePart[]): string {
  return list.map((part) => statePartLabels[part]).join(", ");
}

/** sameBytes compares two optional byte strings. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : Buffer.from(a).equals(b);
}
