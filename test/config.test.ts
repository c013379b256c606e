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
      keyRotationDays: undefined,
      keyEncryptionKey: undefined,
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
    [{ M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: "a".repeat(64) }, "M2M_ADMIN_CLIENT_SECRET"],
    [{ M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: "0123456789abcdef0123456789abcdef" }, "M2M_ADMIN_CLIENT_SECRET"],
    [{ M2M_ADMIN_CLIENT_ID: "admin", M2M_ADMIN_CLIENT_SECRET: "Zx9".repeat(86) + "abcdefghijklmnop" }, "M2M_ADMIN_CLIENT_SECRET"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ M2M_KEY_ROTATION_DAYS: "0" }, "M2M_KEY_ROTATION_DAYS"],
    [{ M2M_KEY_ROTATION_DAYS: "-7" }, "M2M_KEY_ROTATION_DAYS"],
    [{ M2M_KEY_ROTATION_DAYS: "weekly" }, "M2M_KEY_ROTATION_DAYS"],
    [{ M2M_KEY_ENCRYPTION_KEY: "not-a-key" }, "M2M_KEY_ENCRYPTION_KEY"],
    [{ M2M_KEY_ENCRYPTION_KEY: "ab".repeat(31) }, "M2M_KEY_ENCRYPTION_KEY"],
  ];
  it.each(bad)("rejects %j naming %s", (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}:`));
  });

  it("never repeats a value that may hold a password", () => {
    for (const REDIS_URL of ["http://user:hunter2@localhost", "not a url hunter2"]) {
      expect(() => loadConfig({ REDIS_URL })).toThrow(ConfigError);
      try {
        loadConfig({ REDIS_URL });
      } catch (err) {
        expect(String((err as Error).message)).not.toContain("hunter2");
      }
    }
  });

  it("reads the admin credentials and the other settings", () => {
    const config = loadConfig({
      HOST: "0.0.0.0",
      REDIS_URL: "redis://127.0.0.1:6379/2",
      M2M_ISSUER: "https://auth.example.com",
      M2M_SIGNING_ALG: "EdDSA",
      M2M_ADMIN_CLIENT_ID: "admin",
      M2M_ADMIN_CLIENT_SECRET: "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU",
      LOG_LEVEL: "debug",
    });
    expect(config).toMatchObject({ host: "0.0.0.0", issuer: "https://auth.example.com", signingAlg: "EdDSA", admin: { clientId: "admin" }, logLevel: "debug" });
  });

  it("reads the key rotation period and the key encryption key", () => {
    const key = Buffer.alloc(32, 7);
    const config = loadConfig({ M2M_KEY_ROTATION_DAYS: "0.5", M2M_KEY_ENCRYPTION_KEY: key.toString("base64url") });
    expect(config.keyRotationDays).toBe(0.5);
    expect(Buffer.from(config.keyEncryptionKey!).equals(key)).toBe(true);
    expect(loadConfig({ M2M_KEY_ROTATION_DAYS: "90" }).keyRotationDays).toBe(90);
    expect(loadConfig({ M2M_KEY_ENCRYPTION_KEY: key.toString("hex") }).keyEncryptionKey).toEqual(new Uint8Array(key));
  });

  it("never repeats a malformed key encryption key in the error", () => {
    expect(() => loadConfig({ M2M_KEY_ENCRYPTION_KEY: "hunter2-hunter2" })).toThrow(/^(?!.*hunter2)/);
  });
});
