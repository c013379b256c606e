import { beforeAll, describe, expect, it } from "vitest";
import { createTokenVerifier, type TokenVerifierOptions } from "../../src/interceptor/index.js";
import { fakeClock } from "./fake-clock.js";
import { AUDIENCE, claims, ISSUER, jwksOf, makeKey, now, sign, type TestKey } from "./fixtures.js";

// The verifier's clock and token cache, without a server.

let es: TestKey;

beforeAll(async () => {
  es = await makeKey("ES256", "es-1");
});

const base = (): TokenVerifierOptions => ({ issuer: ISSUER, audience: AUDIENCE, keys: jwksOf(es) });

describe("TokenVerifier clock and cache", () => {
  it("judges exp and nbf by the clock option", async () => {
    const clock = fakeClock((now() - 3600) * 1000);
    const verifier = createTokenVerifier({ ...base(), clock: clock.now, tokenCache: false });
    const pastToken = await sign(es, claims({ iat: clock.seconds(), nbf: clock.seconds(), exp: clock.seconds() + 60 }));
    await expect(verifier.verify(pastToken)).resolves.toBeDefined(); // expired by Date.now, not by the clock
    // Issued by the clock's time: an iat by Date.now would be an hour in the clock's future, refused.
    const later = await sign(es, claims({ iat: clock.seconds(), nbf: clock.seconds() + 600 }));
    await expect(verifier.verify(later)).rejects.toThrow("token not yet valid");
    clock.advance(600_000);
    await expect(verifier.verify(later)).resolves.toBeDefined();
    await expect(verifier.verify(pastToken)).rejects.toThrow("token expired");
  });

  it("answers cached() only for a token it verified, until its exp plus the skew", async () => {
    const clock = fakeClock();
    const verifier = createTokenVerifier({ ...base(), clock: clock.now, clockSkewSeconds: 10 });
    const token = await sign(es, claims({ exp: clock.seconds() + 60 }));
    expect(verifier.cached(token)).toBeUndefined();
    const got = await verifier.verify(token);
    expect(verifier.cached(token)).toBe(got);
    expect(await verifier.verify(token)).toBe(got);
    clock.advance(70_000);
    expect(verifier.cached(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toThrow("token expired");
  });

  it("bounds the cache by bytes as well as entries: big tokens evict the least recently used", async () => {
    // Each token near the 8 KiB a verifier parses, about 10 KB with its claims: 40 KB holds a few of
    // them, however many entries maxEntries would allow.
    const verifier = createTokenVerifier({ ...base(), tokenCache: { maxEntries: 10_000, maxBytes: 40_000 } });
    const big = (i: number) => sign(es, claims({ jti: `big-${i}`, blob: `${i}`.padEnd(4_000, "x") }));
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => big(i)));
    for (const token of tokens) await verifier.verify(token);
    const held = tokens.map((token) => verifier.cached(token) !== undefined);
    const kept = held.filter(Boolean).length;
    // The newest are held, the oldest evicted: a suffix of the tokens, as many as 40 KB allow.
    expect(held).toEqual([...Array<boolean>(8 - kept).fill(false), ...Array<boolean>(kept).fill(true)]);
    expect(kept).toBeGreaterThanOrEqual(2);
    expect(kept).toBeLessThanOrEqual(4);
    // The default is 16 MiB; maxBytes 0 keeps nothing, and a bad value is refused by name.
    const small = await sign(es, claims({ jti: "small" }));
    const none = createTokenVerifier({ ...base(), tokenCache: { maxBytes: 0 } });
    await none.verify(small);
    expect(none.cached(small)).toBeUndefined();
    expect(() => createTokenVerifier({ ...base(), tokenCache: { maxBytes: -1 } })).toThrow(/tokenCache\.maxBytes/);
  });

  it("never answers cached() with tokenCache: false", async () => {
    const verifier = createTokenVerifier({ ...base(), tokenCache: false });
    const token = await sign(es);
    await verifier.verify(token);
    expect(verifier.cached(token)).toBeUndefined();
  });

  it("hands out deeply frozen claims, so no caller can change what the next one sees", async () => {
    const verifier = createTokenVerifier(base());
    const got = await verifier.verify(await sign(es, claims({ aud: [AUDIENCE], nested: { roles: ["a"] } })));
    expect(Object.isFrozen(got)).toBe(true);
    expect(Object.isFrozen(got.scopes)).toBe(true);
    expect(Object.isFrozen(got.aud)).toBe(true);
    expect(Object.isFrozen((got["nested"] as { roles: string[] }).roles)).toBe(true);
    expect(() => got.scopes.push("m2m:admin")).toThrow(TypeError);
  });

  it("does not refill the cache with a verification that began before a key left the set", async () => {
    const rs = await makeKey("RS256", "rs-1");
    let ring = jwksOf(es, rs);
    let release = () => {};
    let gate: Promise<void> | undefined;
    const verifier = createTokenVerifier({
      ...base(),
      keys: async () => {
        const seen = ring;
        if (gate !== undefined) await gate;
        return seen;
      },
    });
    const old = await sign(rs);
    gate = new Promise<void>((r) => (release = r));
    const slow = verifier.verify(old); // reads the set with rs-1, then waits
    gate = undefined;
    ring = jwksOf(es);
    await verifier.verify(await sign(es)); // sees rs-1 gone: the cache is emptied
    release();
    await expect(slow).resolves.toBeDefined();
    expect(verifier.cached(old)).toBeUndefined();
    await expect(verifier.verify(old)).rejects.toThrow("unknown key id");
  });
});
