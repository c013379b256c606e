import { describe, expect, it } from "vitest";
import type { AuthClaims } from "../../src/interceptor/index.js";
import { createTokenCache, DEFAULT_TOKEN_CACHE_BYTES, DEFAULT_TOKEN_CACHE_ENTRIES } from "../../src/interceptor/token-cache.js";
import { fakeClock } from "./fake-clock.js";

const claimsOf = (sub: string) => ({ sub, scopes: [] }) as unknown as AuthClaims;

describe("createTokenCache", () => {
  it("returns the stored claims until expiresAt, and drops the entry then", () => {
    const clock = fakeClock(1_000_000);
    const cache = createTokenCache({ clock: clock.now });
    const claims = claimsOf("a");
    cache.set("token-a", claims, 1_060_000);
    expect(cache.get("token-a")).toBe(claims);
    clock.advance(59_999);
    expect(cache.get("token-a")).toBe(claims);
    clock.advance(1);
    expect(cache.get("token-a")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("keys by the whole token string", () => {
    const cache = createTokenCache({ clock: () => 0 });
    cache.set("h.p.sig", claimsOf("a"), 1_000);
    expect(cache.get("h.p.sIg")).toBeUndefined();
    expect(cache.get("h.p.sig ")).toBeUndefined();
    expect(cache.get("h.p.sig")?.sub).toBe("a");
  });

  it("does not store an entry that has already expired", () => {
    const cache = createTokenCache({ clock: () => 5_000 });
    cache.set("t", claimsOf("a"), 5_000);
    expect(cache.size).toBe(0);
  });

  it("evicts the least recently used entry beyond maxEntries", () => {
    const cache = createTokenCache({ maxEntries: 2, clock: () => 0 });
    cache.set("a", claimsOf("a"), 1_000);
    cache.set("b", claimsOf("b"), 1_000);
    cache.set("c", claimsOf("c"), 1_000);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(2);
    expect(cache.get("b")?.sub).toBe("b"); // b is now the most recently used
    cache.set("d", claimsOf("d"), 1_000);
    expect(cache.get("c")).toBeUndefined();
    expect(cache.get("b")?.sub).toBe("b");
    expect(cache.get("d")?.sub).toBe("d");
  });

  it("stores nothing with maxEntries 0, and empties on clear", () => {
    const off = createTokenCache({ maxEntries: 0, clock: () => 0 });
    off.set("a", claimsOf("a"), 1_000);
    expect(off.get("a")).toBeUndefined();
    const on = createTokenCache({ clock: () => 0 });
    on.set("a", claimsOf("a"), 1_000);
    on.clear();
    expect(on.get("a")).toBeUndefined();
  });

  it("defaults to 10_000 entries", () => {
    expect(DEFAULT_TOKEN_CACHE_ENTRIES).toBe(10_000);
    const cache = createTokenCache({ clock: () => 0 });
    for (let i = 0; i <= 10_000; i++) cache.set(`t${i}`, claimsOf(String(i)), 1_000);
    expect(cache.size).toBe(10_000);
    expect(cache.get("t0")).toBeUndefined();
    expect(cache.get("t1")?.sub).toBe("1");
  });

  it.each([-1, 1.5, Number.NaN, Infinity, "10"])("rejects maxEntries %j with a TypeError", (maxEntries) => {
    expect(() => createTokenCache({ maxEntries: maxEntries as number })).toThrow(/^maxEntries: must be a non-negative integer/);
  });

  it("counts each entry as its token's length plus its claims' JSON, and evicts the least recently used past maxBytes", () => {
    const cache = createTokenCache({ maxBytes: 100, clock: () => 0 });
    const cost = (token: string, sub: string) => token.length + JSON.stringify(claimsOf(sub)).length;
    cache.set("a".repeat(10), claimsOf("a"), 1_000);
    cache.set("b".repeat(10), claimsOf("b"), 1_000);
    expect(cache.bytes).toBe(cost("a".repeat(10), "a") + cost("b".repeat(10), "b"));
    cache.get("a".repeat(10));
    cache.set("c".repeat(40), claimsOf("c"), 1_000);
    // b was the least recently used: it went to make room.
    expect([cache.get("a".repeat(10)) !== undefined, cache.get("b".repeat(10)) !== undefined, cache.get("c".repeat(40)) !== undefined]).toEqual([
      true,
      false,
      true,
    ]);
    expect(cache.bytes).toBeLessThanOrEqual(100);
    // An entry larger than the whole bound is not stored, and evicts nothing.
    cache.set("d".repeat(200), claimsOf("d"), 1_000);
    expect([cache.size, cache.get("d".repeat(200))]).toEqual([2, undefined]);
    cache.clear();
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
    expect(DEFAULT_TOKEN_CACHE_BYTES).toBe(16 * 1024 * 1024);
    expect(() => createTokenCache({ maxBytes: 1.5 })).toThrow(/maxBytes/);
  });
});
