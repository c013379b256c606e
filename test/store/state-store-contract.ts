import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { Store } from "../../src/store/client-store.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

/** describeStateStoreContract adds the StateStore cases to a backend's contract suite. */
export function describeStateStoreContract(store: () => Store): void {
  it("state: get of an unknown name is undefined", async () => {
    expect(await store().state.get(`missing-${randomBytes(4).toString("hex")}`)).toBeUndefined();
  });

  it("state: putIfAbsent keeps the first value and returns it", async () => {
    const { state } = store();
    expect(text(await state.putIfAbsent("secret-hash-key", bytes("first")))).toBe("first");
    expect(text(await state.putIfAbsent("secret-hash-key", bytes("second")))).toBe("first");
    expect(text(await state.get("secret-hash-key"))).toBe("first");
  });

  it("state: concurrent putIfAbsent calls all get the one stored value", async () => {
    const { state } = store();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => state.putIfAbsent("signing-keys", bytes(`value ${i}`))),
    );
    const stored = text(await state.get("signing-keys"));
    expect(results.map(text)).toEqual(Array.from({ length: 10 }, () => stored));
  });

  it("state: put replaces, binary values round-trip, and returned bytes are copies", async () => {
    const { state } = store();
    await state.put("bootstrap-admin", bytes("one"));
    expect(text(await state.get("bootstrap-admin"))).toBe("one");
    const binary = new Uint8Array(randomBytes(64));
    const original = Array.from(binary);
    await state.put("bootstrap-admin", binary);
    binary.fill(1);
    const got = await state.get("bootstrap-admin");
    expect(Array.from(got ?? [])).toEqual(original);
    got?.fill(0);
    expect(Array.from((await state.get("bootstrap-admin")) ?? [])).toEqual(original);
  });
}
