import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { KeysUnavailableError } from "../../src/interceptor/index.js";
import { createJwksCache, DEFAULT_JWKS_MAX_STALE, type JwksCacheOptions } from "../../src/interceptor/jwks-cache.js";
import { maxResponseBytes } from "../../src/interceptor/outbound-fetch.js";
import { fakeClock, type FakeClock } from "./fake-clock.js";
import { jwksOf, makeKey, type TestKey } from "./fixtures.js";
import { startJwksServer } from "./jwks-server.js";

let k1: TestKey;
let k2: TestKey;

beforeAll(async () => {
  [k1, k2] = await Promise.all([makeKey("ES256", "es-1"), makeKey("ES256", "es-2")]);
});

const URI = "https://auth.test/.well-known/jwks.json";

/** stubFetch is an injectable fetch that counts calls and answers with `answer()`. */
function stubFetch(body: unknown = jwksOf(k1)) {
  const stub = {
    calls: 0,
    inits: [] as RequestInit[],
    answer: (): Response | Promise<Response> => json(body),
    fetch: (async (_url: string | URL | Request, init?: RequestInit) => {
      stub.calls++;
      stub.inits.push(init ?? {});
      return stub.answer();
    }) as typeof fetch,
  };
  return stub;
}

const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function cacheWith(stub: ReturnType<typeof stubFetch>, clock: FakeClock, extra: Partial<JwksCacheOptions> = {}) {
  return createJwksCache({ jwksUri: URI, fetch: stub.fetch, clock: clock.now, ...extra });
}

async function unavailable(promise: Promise<unknown>): Promise<KeysUnavailableError> {
  const err = await promise.then(
    () => new Error("resolved but was expected to fail"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeysUnavailableError);
  return err as KeysUnavailableError;
}

describe("createJwksCache options", () => {
  it.each(["file:///etc/jwks.json", "ftp://auth.test/jwks", "/relative/jwks.json", "not a url"])("rejects jwksUri %j", (jwksUri) => {
    expect(() => createJwksCache({ jwksUri })).toThrow(TypeError);
    expect(() => createJwksCache({ jwksUri })).toThrow(/^jwksUri: /);
  });

  it.each([
    [{ cacheMaxAge: -1 }, /^cacheMaxAge: /],
    [{ cacheMaxAge: Number.NaN }, /^cacheMaxAge: /],
    [{ cooldown: Infinity }, /^cooldown: /],
    [{ maxStale: -1 }, /^maxStale: /],
    [{ maxStale: Infinity }, /^maxStale: /],
    [{ maxStale: 59_999, cacheMaxAge: 60_000 }, /^maxStale: must be at least cacheMaxAge/],
    [{ timeout: 0 }, /^timeout: /],
    [{ timeout: "5s" }, /^timeout: /],
    [{ fetch: "fetch" }, /^fetch: /],
    [{ clock: 42 }, /^clock: /],
  ])("rejects %o with a TypeError naming it", (extra, name) => {
    expect(() => createJwksCache({ jwksUri: URI, ...(extra as object) })).toThrow(name);
  });

  it("accepts cacheMaxAge 0 and cooldown 0", () => {
    expect(() => createJwksCache({ jwksUri: URI, cacheMaxAge: 0, cooldown: 0 })).not.toThrow();
  });

  it("accepts maxStale equal to cacheMaxAge, and a cacheMaxAge beyond the default maxStale", () => {
    expect(DEFAULT_JWKS_MAX_STALE).toBe(24 * 3600_000);
    expect(() => createJwksCache({ jwksUri: URI, cacheMaxAge: 60_000, maxStale: 60_000 })).not.toThrow();
    expect(() => createJwksCache({ jwksUri: URI, cacheMaxAge: 2 * DEFAULT_JWKS_MAX_STALE })).not.toThrow();
  });
});

describe("JwksCache", () => {
  it("fetches nothing until asked, then serves from memory for cacheMaxAge (default 10 min)", async () => {
    const stub = stubFetch();
    const clock = fakeClock();
    const cache = cacheWith(stub, clock);
    expect(stub.calls).toBe(0);
    expect(await cache.current()).toEqual(jwksOf(k1));
    clock.advance(599_999);
    await cache.current();
    expect(stub.calls).toBe(1);
    stub.answer = () => json(jwksOf(k1, k2));
    clock.advance(1);
    expect(await cache.current()).toEqual(jwksOf(k1, k2));
    expect(stub.calls).toBe(2);
  });

  it("sends one GET with redirect: manual and a timeout signal", async () => {
    const stub = stubFetch();
    await cacheWith(stub, fakeClock()).current();
    expect(stub.inits[0]?.redirect).toBe("manual");
    expect(stub.inits[0]?.signal).toBeInstanceOf(AbortSignal);
  });

  it("shares one in-flight fetch among all concurrent callers", async () => {
    const stub = stubFetch();
    let release = () => {};
    stub.answer = () => new Promise<Response>((resolve) => (release = () => resolve(json(jwksOf(k1)))));
    const cache = cacheWith(stub, fakeClock());
    const waiting = [...Array.from({ length: 20 }, () => cache.current()), ...Array.from({ length: 5 }, () => cache.refresh())];
    await new Promise((r) => setTimeout(r, 10));
    expect(stub.calls).toBe(1);
    release();
    const sets = await Promise.all(waiting);
    expect(new Set(sets).size).toBe(1);
    expect(stub.calls).toBe(1);
  });

  it("keeps serving the stale set when a refetch fails, retrying only after the cooldown", async () => {
    const stub = stubFetch();
    const clock = fakeClock();
    const cache = cacheWith(stub, clock, { cacheMaxAge: 60_000, cooldown: 30_000 });
    const first = await cache.current();
    stub.answer = () => json({ error: "down" }, 503);
    clock.advance(60_000);
    expect(await cache.current()).toBe(first);
    expect(stub.calls).toBe(2);
    clock.advance(29_999);
    expect(await cache.current()).toBe(first);
    expect(await cache.refresh()).toBe(first);
    expect(stub.calls).toBe(2);
    stub.answer = () => Promise.reject(new TypeError("fetch failed"));
    clock.advance(1);
    expect(await cache.current()).toBe(first);
    expect(stub.calls).toBe(3);
    stub.answer = () => json(jwksOf(k2));
    clock.advance(30_000);
    expect(await cache.current()).toEqual(jwksOf(k2));
    expect(stub.calls).toBe(4);
  });

  it("serves the stale set for at most maxStale past cacheMaxAge (default 24 h), then fails closed until a fetch succeeds", async () => {
    const stub = stubFetch();
    const clock = fakeClock();
    const cache = cacheWith(stub, clock);
    const first = await cache.current();
    stub.answer = () => json({ error: "down" }, 503);
    // Within cacheMaxAge + maxStale of the last successful fetch, every failed refetch falls back.
    clock.advance(600_000);
    expect(await cache.current()).toBe(first);
    clock.advance(DEFAULT_JWKS_MAX_STALE - 30_000);
    expect(await cache.current()).toBe(first);
    expect(await cache.refresh()).toBe(first);
    clock.advance(30_000); // exactly cacheMaxAge + maxStale: still served
    expect(await cache.current()).toBe(first);
    const before = stub.calls;
    clock.advance(1); // past it: the set is no longer trusted, and each call tries to fetch
    const err = await unavailable(cache.current());
    expect(err.message).toBe("verification keys are unavailable: the JWKS could not be fetched");
    await unavailable(cache.refresh());
    expect(stub.calls).toBe(before + 2);
    // Not even within the cooldown, nor after more failures, does the old set come back.
    stub.answer = () => Promise.reject(new TypeError("fetch failed"));
    clock.advance(30_000);
    await unavailable(cache.current());
    // The endpoint is back: the next call fetches and serves the new set.
    stub.answer = () => json(jwksOf(k2));
    expect(await cache.current()).toEqual(jwksOf(k2));
    expect(await cache.refresh()).toEqual(jwksOf(k2));
  });

  it("measures maxStale from the last successful fetch, also when a slow failing fetch crosses it", async () => {
    const stub = stubFetch();
    const clock = fakeClock();
    const cache = cacheWith(stub, clock, { cacheMaxAge: 60_000, maxStale: 120_000, cooldown: 0 });
    const first = await cache.current();
    stub.answer = () => json({}, 500);
    clock.advance(60_000);
    expect(await cache.current()).toBe(first);
    clock.advance(120_000); // failed refetches do not extend the set's life
    expect(await cache.current()).toBe(first);
    // A fetch that begins within maxStale but fails after it does not fall back.
    let fail = () => {};
    stub.answer = () => new Promise<Response>((resolve) => (fail = () => resolve(json({}, 500))));
    const slow = cache.current();
    await new Promise((r) => setTimeout(r, 10));
    clock.advance(1);
    fail();
    await unavailable(slow);
    // A success restarts the clock.
    stub.answer = () => json(jwksOf(k1, k2));
    const second = await cache.current();
    expect(second).toEqual(jwksOf(k1, k2));
    stub.answer = () => json({}, 500);
    clock.advance(180_000);
    expect(await cache.current()).toBe(second);
    clock.advance(1);
    await unavailable(cache.current());
  });

  it("refetches for an unknown kid at most once per cooldown, and returns the newest set", async () => {
    const stub = stubFetch();
    const clock = fakeClock();
    const cache = cacheWith(stub, clock);
    const first = await cache.current();
    expect(await cache.refresh()).toBe(first);
    expect(stub.calls).toBe(1);
    stub.answer = () => json(jwksOf(k1, k2));
    clock.advance(30_000);
    expect(await cache.refresh()).toEqual(jwksOf(k1, k2));
    expect(await cache.refresh()).toEqual(jwksOf(k1, k2));
    expect(await cache.current()).toEqual(jwksOf(k1, k2));
    expect(stub.calls).toBe(2);
  });

  it("fails closed while it never had a set, and tries again on the next call", async () => {
    const stub = stubFetch();
    stub.answer = () => json({}, 500);
    const cache = cacheWith(stub, fakeClock());
    const err = await unavailable(cache.current());
    expect(err.message).toBe("verification keys are unavailable: the JWKS could not be fetched");
    expect(err.message).not.toContain("auth.test");
    await unavailable(cache.refresh());
    expect(stub.calls).toBe(2);
    stub.answer = () => json(jwksOf(k1));
    expect(await cache.current()).toEqual(jwksOf(k1));
  });

  const jsonType = { "content-type": "application/json" };
  const endless = (): Response =>
    new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(64 * 1024).fill(0x20)) }), { status: 200, headers: jsonType });

  it.each<[string, () => Response, RegExp]>([
    ["a 404", () => json(jwksOf(k1), 404), /HTTP 404/],
    ["a redirect", () => new Response(null, { status: 302, headers: { location: "https://evil.test/jwks" } }), /HTTP 302/],
    ["a body that is not JSON", () => new Response("<html>", { status: 200, headers: jsonType }), /not UTF-8 JSON/],
    ["a body that is not UTF-8", () => new Response(new Uint8Array([0x7b, 0xff, 0x7d]), { status: 200, headers: jsonType }), /not UTF-8 JSON/],
    [
      "a body whose content type is not JSON",
      () => new Response(JSON.stringify(jwksOf(k1)), { status: 200, headers: { "content-type": "text/html" } }),
      /is not JSON/,
    ],
    ["a body without a content type", () => new Response(new Blob([JSON.stringify(jwksOf(k1))]), { status: 200 }), /is not JSON/],
    ["a JSON array", () => json([jwksOf(k1)]), /not a JSON Web Key Set/],
    ["an object without keys", () => json({ jwks: [] }), /not a JSON Web Key Set/],
    ["keys that is not an array", () => json({ keys: {} }), /not a JSON Web Key Set/],
    ["a declared length over the cap", () => new Response("{}", { headers: { ...jsonType, "content-length": String(maxResponseBytes + 1) } }), /larger than/],
    ["an endless body", endless, /larger than/],
  ])("refuses %s", async (_what, answer, reason) => {
    const stub = stubFetch();
    stub.answer = answer;
    const err = await unavailable(cacheWith(stub, fakeClock()).current());
    expect((err.cause as Error).message).toMatch(reason);
  });

  it("gives up after timeout, even on a fetch that ignores its abort signal", async () => {
    const stub = stubFetch();
    stub.answer = () => new Promise<Response>(() => {});
    const started = Date.now();
    const err = await unavailable(cacheWith(stub, fakeClock(), { timeout: 50 }).current());
    expect((err.cause as Error).message).toMatch(/timed out after 50 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("does not follow a real redirect to another server", async () => {
    const target = await startJwksServer(jwksOf(k1));
    const redirector = createServer((_req, res) => res.writeHead(302, { location: target.url }).end());
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = redirector.address() as AddressInfo;
      const err = await unavailable(createJwksCache({ jwksUri: `http://127.0.0.1:${port}/jwks` }).current());
      expect((err.cause as Error).message).toMatch(/HTTP 302/);
      expect(target.requests).toBe(0);
    } finally {
      redirector.closeAllConnections();
      await new Promise((resolve) => redirector.close(resolve));
      await target.close();
    }
  });
});
