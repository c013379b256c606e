import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createM2MServer, type M2MServerOptions } from "../src/server.js";
import { createMemoryStore } from "../src/store/memory-store.js";

// An option given as 0 is a value, never "use the default": honoured where 0 means something,
// refused where it cannot.

async function start(options: Partial<M2MServerOptions>) {
  const store = createMemoryStore();
  const logger = pino({ level: "silent" });
  const server = createM2MServer({ host: "127.0.0.1", port: 0, issuer: "http://m2m-auth.test", signingAlg: "ES256", store, logger, ...options });
  return { server, store };
}

describe("server options", () => {
  it.each([
    ["usageFlushIntervalMs", /options\.usageFlushIntervalMs/],
    ["keyRotationCheckIntervalMs", /options\.keyRotationCheckIntervalMs/],
    ["keyReloadIntervalMs", /options\.keyReloadIntervalMs/],
  ] as const)("refuses %s: 0 rather than taking the default", async (option, named) => {
    const { server, store } = await start({ [option]: 0 });
    try {
      await expect(server).rejects.toThrow(named);
    } finally {
      await store.close();
    }
  });

  it.each([
    [{ authFailures: { windowSeconds: 0, perClientAddress: 10, perClient: 20, perAddress: 10 } }, /options\.authFailures\.windowSeconds/],
    [{ authFailures: { windowSeconds: 60, perClientAddress: 5, perClient: 5, perAddress: 5 } }, /options\.authFailures\.perClientAddress/],
    [{ validateTokenPerSecond: -1 }, /options\.validateTokenPerSecond/],
  ] as const)("refuses throttling limits it cannot honour: %o", async (options, named) => {
    const { server, store } = await start(options);
    try {
      await expect(server).rejects.toThrow(named);
    } finally {
      await store.close();
    }
  });

  it("honours jwksMaxAgeSeconds: 0 (verifiers may not cache the JWKS)", async () => {
    const { server: starting, store } = await start({ jwksMaxAgeSeconds: 0 });
    const server = await starting;
    try {
      const { url } = await server.listen();
      expect((await fetch(`${url}/.well-known/jwks.json`)).headers.get("cache-control")).toBe("public, max-age=0");
    } finally {
      await server.close();
      await store.close();
    }
  });
});
