import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { Store } from "../../src/store/client-store.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));

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
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => state.putIfAbsent("signing-keys", bytes(`value ${i}`))));
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
    const fromNothing = await Promise.all(Array.from({ length: 10 }, (_, i) => state.compareAndSet("race", undefined, bytes(`value ${i}`))));
    expect(fromNothing.filter(Boolean)).toHaveLength(1);
    const stored = await state.get("race");
    const over = await Promise.all(Array.from({ length: 10 }, (_, i) => state.compareAndSet("race", stored, bytes(`next ${i}`))));
    expect(over.filter(Boolean)).toHaveLength(1);
    expect(text(await state.get("race"))).toBe(`next ${over.indexOf(true)}`);
  });

  it("state: getMany reads several values at once, undefined where absent", async () => {
    const { state } = store();
    expect(await state.getMany([])).toEqual([]);
    await state.put("a", bytes("one"));
    await state.put("c", bytes("three"));
    expect((await state.getMany(["a", "b", "c"])).map(text)).toEqual(["one", undefined, "three"]);
  });

  it("state: commit writes every value or none, by its expectations", async () => {
    const { state } = store();
    const initial = new Map([
      ["marker", bytes("m1")],
      ["key", bytes("k1")],
    ]);
    const fromNothing = {
      expect: new Map([
        ["marker", undefined],
        ["key", undefined],
      ]),
      set: initial,
    };
    expect(await state.commit(fromNothing)).toBe(true);
    expect(await state.commit(fromNothing)).toBe(false);
    expect((await state.getMany(["marker", "key"])).map(text)).toEqual(["m1", "k1"]);
    // One expectation failing writes nothing, not even the values whose expectation held.
    const wrong = {
      expect: new Map([
        ["marker", bytes("m1")],
        ["key", bytes("other")],
      ]),
      set: new Map([
        ["marker", bytes("m2")],
        ["key", bytes("k2")],
      ]),
    };
    expect(await state.commit(wrong)).toBe(false);
    expect((await state.getMany(["marker", "key"])).map(text)).toEqual(["m1", "k1"]);
    await state.putField("offers", "one", bytes("x"));
    // A field map counts as existing; it is not a value, so it never equals bytes.
    expect(await state.commit({ expect: new Map([["offers", undefined]]), set: new Map([["marker", bytes("m3")]]) })).toBe(false);
    expect(await state.commit({ expect: new Map([["offers", bytes("x")]]), set: new Map([["marker", bytes("m3")]]) })).toBe(false);
    const replace = {
      expect: new Map([
        ["marker", bytes("m1")],
        ["key", bytes("k1")],
      ]),
      set: new Map([["marker", bytes("m2")]]),
      remove: ["key", "offers"],
    };
    expect(await state.commit(replace)).toBe(true);
    expect((await state.getMany(["marker", "key"])).map(text)).toEqual(["m2", undefined]);
    expect((await state.fields("offers")).size).toBe(0);
    // An expectation of absence on a value that is gone holds again.
    expect(
      await state.commit({
        expect: new Map([
          ["key", undefined],
          ["offers", undefined],
        ]),
      }),
    ).toBe(true);
  });

  it("state: of concurrent commits from nothing, exactly one wins", async () => {
    const { state } = store();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        state.commit({
          expect: new Map([["m", undefined]]),
          set: new Map([
            ["m", bytes(`m${i}`)],
            ["v", bytes(`v${i}`)],
          ]),
        }),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect((await state.getMany(["m", "v"])).map(text)).toEqual([`m${winner}`, `v${winner}`]);
  });

  it("state: field maps keep a value per field, binary safe", async () => {
    const { state } = store();
    expect((await state.fields("map")).size).toBe(0);
    const binary = new Uint8Array(randomBytes(48));
    await state.putField("map", "a", binary);
    await state.putField("map", "b", bytes("two"));
    await state.putField("map", "b", bytes("second"));
    const fields = await state.fields("map");
    expect([...fields.keys()].sort()).toEqual(["a", "b"]);
    expect(Array.from(fields.get("a") ?? [])).toEqual(Array.from(binary));
    expect(text(fields.get("b"))).toBe("second");
  });

  it("store: empty until anything is written under its prefix", async () => {
    const fresh = store();
    expect(await fresh.empty()).toBe(true);
    await fresh.state.put("anything", bytes("x"));
    expect(await fresh.empty()).toBe(false);
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
