import { fromBinary } from "@bufbuild/protobuf";
import { ClientRecordSchema, SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { adminClientStateName } from "../clients/admin-client.js";
import { secretHashKeyStateName } from "../clients/secret-hasher.js";
import { keyRingStateName } from "../keys/key-ring.js";
import { storeMarkerStateName } from "../state/store-marker.js";

// The issuer's own state: what each value must be to be usable, and which must exist.

/** issuerStateNames are the state values a running issuer needs in the store. */
export const issuerStateNames: readonly string[] = [storeMarkerStateName, keyRingStateName, secretHashKeyStateName, adminClientStateName];

// Each known value's check: undefined when usable, else why not.
const checks: Record<string, (value: Buffer) => string | undefined> = {
  [keyRingStateName]: (value) => (fromBinary(SigningKeyRingSchema, value).keys.length === 0 ? "holds a key ring without keys" : undefined),
  // The hasher refuses a shorter key (secret-hasher.ts).
  [secretHashKeyStateName]: (value) => (value.length < 32 ? `holds ${value.length} bytes, not a key of at least 32` : undefined),
  // The marker is JSON (state/store-marker.ts): a generation and the secret-hash key's fingerprint.
  [storeMarkerStateName]: (value) => {
    const marker = JSON.parse(value.toString("utf8")) as unknown;
    return typeof marker === "object" && marker !== null ? undefined : "holds no store marker object";
  },
  [adminClientStateName]: (value) =>
    (fromBinary(ClientRecordSchema, value).client?.clientId ?? "") === "" ? "holds an admin record without a client id" : undefined,
};

/** StateJudgement is a state value found wanting (`problem`) or merely worth a note (`note`). */
export type StateJudgement = { problem: string } | { note: string } | undefined;

/** judgeState checks the value of one state name. */
export function judgeState(name: string, value: Buffer): StateJudgement {
  // Locks (key-ring.ts's rotation lock) expire by themselves.
  if (name.startsWith("lock:")) return { note: `lock "${name.slice(5)}" is held (it expires by itself)` };
  const check = checks[name];
  // Other names (a store marker, restore candidates) belong to other versions or commands.
  if (check === undefined) return { note: `state value "${name}" is not one this check knows (informational)` };
  try {
    const problem = check(value);
    return problem === undefined ? undefined : { problem };
  } catch (err) {
    return { problem: `cannot be decoded (${(err as Error).message})` };
  }
}
