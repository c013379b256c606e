import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { newKeyRingBytes, newSigningKeyRecord } from "../../src/keys/first-ring.js";
import { rotateRing } from "../../src/keys/key-ring-record.js";
import { newInitialState } from "../../src/state/initial-state.js";
import { chooseCandidate, decodeCandidate, encodeCandidate, type RestoreCandidate } from "../../src/state/restore-candidate.js";

// Which offer a restore writes back: instances that hold one state agree; one of them may not
// have reloaded the last rotation yet.

async function rotated(ring: Uint8Array): Promise<Uint8Array> {
  const next = rotateRing(fromBinary(SigningKeyRingSchema, ring), await newSigningKeyRecord("ES256", undefined, Date.now()), Date.now());
  return toBinary(SigningKeyRingSchema, next);
}

const candidate = (instance: string, parts: RestoreCandidate["parts"]): RestoreCandidate => ({ instance, offerTime: "t", parts });

describe("choosing a restore candidate", () => {
  it("takes the newest ring of agreeing offers, when it holds the others' current key", async () => {
    const { parts } = await newInitialState({
      configuredHashKey: undefined,
      alg: "ES256",
      encryptionKey: undefined,
      adminConfigured: false,
      origin: "initialized",
      now: Date.now(),
    });
    const newer = { ...parts, ring: await rotated(parts.ring!) };
    const offers = [candidate("behind", parts), candidate("ahead", newer)];
    expect(chooseCandidate(offers)).toEqual({ chosen: offers[1] });
    // A ring that is not a successor of the others' (another key set) is refused.
    const stray = candidate("stray", { ...parts, ring: await newKeyRingBytes("ES256", undefined, Date.now()) });
    expect(chooseCandidate([...offers, stray])).toEqual({ refusal: expect.stringMatching(/signing key rings disagree \(stray\)/) as unknown });
    expect(chooseCandidate([...offers, stray], "stray")).toEqual({ chosen: stray });
    expect(chooseCandidate([])).toEqual({ refusal: expect.stringMatching(/no running instance/) as unknown });
  });

  it("round-trips an offer, in clear or sealed", async () => {
    const { parts } = await newInitialState({
      configuredHashKey: undefined,
      alg: "ES256",
      encryptionKey: undefined,
      adminConfigured: true,
      origin: "initialized",
      now: Date.now(),
    });
    const offer = candidate("one", parts);
    const key = new Uint8Array(32).fill(9);
    expect(decodeCandidate(encodeCandidate(offer, undefined), undefined)).toEqual(offer);
    expect(decodeCandidate(encodeCandidate(offer, key), key)).toEqual(offer);
    expect(() => decodeCandidate(encodeCandidate(offer, key), new Uint8Array(32))).toThrow(/cannot decrypt the m2m-auth restore candidate/);
  });
});
