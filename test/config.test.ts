import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("applies defaults and freezes the result", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      redisUrl: undefined,
      keyPrefix: "m2m:",
      issuer: "http://localhost:8080",
      signingAlg: "RS256",
      admin: undefined,
      logLevel: "info",
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadConfig({ PORT: "9000" }).issuer).toBe("http://localhost:9000");
  });

  const bad: [Record<string, string>, string][] = [
    [{ PORT: "http" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ REDIS_URL: "localhost:6379" }, "REDIS_URL"],
    [{ REDIS_URL: "http://localhost" }, "REDIS_URL"],
    [{ M2M_ISSUER: "not a url" }, "M2M_ISSUER"],
    [{ M2M_ISSUER: "https://a.example/?x=1" }, "M2M_ISSUER"],
    [{ M2M_SIGNING_ALG: "HS256" }, "M2M_SIGNING_ALG"],
    [{ M2M_KEY_PREFIX: "{tag}" }, "M2M_KEY_PREFIX"],
    [{ M2M_ADMIN_CLIENT_ID: "admin" }, "M2M_ADMIN_CLIENT_SECRET"],
    [{ M2M_ADMIN_CLIENT_SECRET: "x".repeat(40) }, "M2M_ADMIN_CLIENT_ID"],
    [{ M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: "short" }, "M2M_ADMIN_CLIENT_SECRET"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
  ];
  it.each(bad)("rejects %j naming %s", (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}:`));
  });

  it("reads the admin credentials and the other settings", () => {
    const config = loadConfig({
      HOST: "0.0.0.0",
      REDIS_URL: "redis://127.0.0.1:6379/2",
      M2M_ISSUER: "https://auth.example.com",
      M2M_SIGNING_ALG: "EdDSA",
      M2M_ADMIN_CLIENT_ID: "admin",
      M2M_ADMIN_CLIENT_SECRET: "s".repeat(32),
      LOG_LEVEL: "debug",
    });
    expect(config).toMatchObject({ host: "0.0.0.0", issuer: "https://auth.example.com", signingAlg: "EdDSA", admin: { clientId: "admin" }, logLevel: "debug" });
  });
});
