import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTrustedProxies, sourceAddressOf, unmapped } from "../../src/http/request-origin.js";
import type { HttpRequest } from "../../src/http/exchange.js";
import { createM2MServer, type M2MServer } from "../../src/server.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { loadConfig } from "../../src/config.js";

// The request's id and source address are made once at the edge. X-Forwarded-For is believed only
// from a configured proxy, and then only up to the first hop that is not one.

function request(remoteAddress: string, forwardedFor?: string): HttpRequest {
  return { socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor } } as unknown as HttpRequest;
}

describe("source address", () => {
  const proxies = createTrustedProxies(["10.0.0.0/8", "fd00::/8", "192.0.2.1"]);

  it("is the peer when the peer is no trusted proxy, whatever X-Forwarded-For says", () => {
    expect(sourceAddressOf(request("203.0.113.9", "198.51.100.1"), proxies)).toBe("203.0.113.9");
  });

  it("is the right-most untrusted X-Forwarded-For hop from a trusted proxy", () => {
    expect(sourceAddressOf(request("10.1.2.3", "198.51.100.1, 203.0.113.7, 10.9.9.9"), proxies)).toBe("203.0.113.7");
    expect(sourceAddressOf(request("::ffff:192.0.2.1", "203.0.113.8"), proxies)).toBe("203.0.113.8");
    expect(sourceAddressOf(request("fd00::1", "2001:db8::5"), proxies)).toBe("2001:db8::5");
  });

  it("stops at a hop that is not an address, and keeps the proxy when nothing is forwarded", () => {
    expect(sourceAddressOf(request("10.1.2.3", "198.51.100.1, garbage"), proxies)).toBe("10.1.2.3");
    expect(sourceAddressOf(request("10.1.2.3"), proxies)).toBe("10.1.2.3");
  });

  it("unmaps IPv4-mapped IPv6 addresses", () => {
    expect(unmapped("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(unmapped("::1")).toBe("::1");
  });

  it("refuses a malformed proxy entry, in config with the variable's name", () => {
    for (const entry of ["10.0.0.0/33", "example.com", "10.0.0.1/8/1", "::1/129", "10.0.0.0/x"]) {
      expect(() => createTrustedProxies([entry])).toThrow(TypeError);
    }
    expect(() => loadConfig({ M2M_TRUSTED_PROXIES: "10.0.0.0/8, nope" })).toThrow(/M2M_TRUSTED_PROXIES/);
    expect(loadConfig({ M2M_TRUSTED_PROXIES: "10.0.0.0/8, ::1" }).trustedProxies).toEqual(["10.0.0.0/8", "::1"]);
  });
});

describe("x-request-id", () => {
  let server: M2MServer;
  let url: string;
  beforeAll(async () => {
    server = await createM2MServer({
      host: "127.0.0.1",
      port: 0,
      issuer: "http://m2m-auth.test",
      signingAlg: "ES256",
      store: createMemoryStore(),
      logger: pino({ level: "silent" }),
    });
    ({ url } = await server.listen());
  });
  afterAll(() => server.close());

  it("answers every route with the caller's id when it is a plain token, else a fresh one", async () => {
    for (const path of ["/healthz", "/oauth/token", "/m2mauth.v1.TokenService/ValidateToken", "/api/v1/organizations/o/clients"]) {
      const kept = await fetch(`${url}${path}`, { method: "POST", headers: { "x-request-id": "trace-1234", "content-type": "application/json" }, body: "{}" });
      expect(kept.headers.get("x-request-id"), path).toBe("trace-1234");
      const replaced = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "x-request-id": "bad id with spaces", "content-type": "application/json" },
        body: "{}",
      });
      expect(replaced.headers.get("x-request-id"), path).toMatch(/^[\w-]{9,20}$/);
      const again = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(again.headers.get("x-request-id"), path).not.toBe(replaced.headers.get("x-request-id"));
    }
  });
});
