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

  it("state: compareAndSet sets from nothing once, then only over the value it expects", async () => {
    const { state } = store();
    expect(await state.compareAndSet("cas", undefined, bytes("one"))).toBe(true);
    expect(await state.compareAndSet("cas", undefined, bytes("two"))).toBe(false);
    expect(text(await state.get("cas"))).toBe("one");
    expect(await state.compareAndSet("cas", bytes("one"), bytes("three"))).toBe(true);
    expect(await state.compareAndSet("cas", bytes("one"), bytes("four"))).toBe(false);
    expect(await state.compareAndSet("cas", bytes("thre"), bytes("four"))).toBe(false);
    expect(await state.compareAndSet("cas", bytes(""), bytes("four"))).toBe(false);
    expect(text(await state.get("cas"))).toBe("three");
    const binary = new Uint8Array(randomBytes(32));
    expect(await state.compareAndSet("cas", bytes("three"), binary)).toBe(true);
    expect(await state.compareAndSet("cas", new Uint8Array(binary), bytes("five"))).toBe(true);
    expect(text(await state.get("cas"))).toBe("five");
    expect(await state.compareAndSet("other", bytes("five"), bytes("six"))).toBe(false);
    expect(await state.get("other")).toBeUndefined();
  });

  it("state: of concurrent compareAndSet calls over one value, exactly one wins", async () => {
    const { state } = store();
    const fromNothing = await Promise.all(
      Array.from({ length: 10 }, (_, i) => state.compareAndSet("race", undefined, bytes(`value ${i}`))),
    );
    expect(fromNothing.filter(Boolean)).toHaveLength(1);
    const stored = await state.get("race");
    const over = await Promise.all(Array.from({ length: 10 }, (_, i) => state.compareAndSet("race", stored, bytes(`next ${i}`))));
    expect(over.filter(Boolean)).toHaveLength(1);
    expect(text(await state.get("race"))).toBe(`next ${over.indexOf(true)}`);
  });

  it("state: a lock is held by one owner until it releases it; others cannot release it", async () => {
    const { state } = store();
    expect(await state.acquireLock("rotate", "owner-a", 10_000)).toBe(true);
    expect(await state.acquireLock("rotate", "owner-b", 10_000)).toBe(false);
    expect(await state.acquireLock("rotate", "owner-a", 10_000)).toBe(false);
    expect(await state.acquireLock("other-lock", "owner-b", 10_000)).toBe(true);
    await state.releaseLock("rotate", "owner-b");
    await state.releaseLock("never-taken", "owner-b");
    expect(await state.acquireLock("rotate", "owner-b", 10_000)).toBe(false);
    await state.releaseLock("rotate", "owner-a");
    expect(await state.acquireLock("rotate", "owner-b", 10_000)).toBe(true);
    const racers = await Promise.all(Array.from({ length: 10 }, (_, i) => state.acquireLock("raced", `owner-${i}`, 10_000)));
    expect(racers.filter(Boolean)).toHaveLength(1);
  });

  it("state: a lock expires after its ttl, and its old owner cannot release the next one's", async () => {
    const { state } = store();
    expect(await state.acquireLock("expiring", "owner-a", 150)).toBe(true);
    expect(await state.acquireLock("expiring", "owner-b", 150)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await state.acquireLock("expiring", "owner-b", 10_000)).toBe(true);
    await state.releaseLock("expiring", "owner-a");
    expect(await state.acquireLock("expiring", "owner-c", 10_000)).toBe(false);
  });
}
