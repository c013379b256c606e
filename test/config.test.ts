import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { availableCores, ConfigError, cpuQuota, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("applies defaults and freezes the result", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      redis: undefined,
      workers: 1,
      signOnThreadPool: expect.any(Boolean) as unknown,
      keyPrefix: "m2m:",
      issuer: "http://localhost:8080",
      signingAlg: "RS256",
      admin: undefined,
      keyRotationDays: undefined,
      jwksMaxAgeSeconds: 300,
      keyEncryptionKey: undefined,
      secretHashKey: undefined,
      allowEvictingRedis: false,
      logLevel: "info",
      storeTimeoutMs: 500,
      drainSeconds: 5,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadConfig({ PORT: "9000" }).issuer).toBe("http://localhost:9000");
    // Trimmed, and empty means unset, as for every other variable.
    expect(loadConfig({ M2M_KEY_PREFIX: " tenant-a: " }).keyPrefix).toBe("tenant-a:");
    expect(loadConfig({ M2M_KEY_PREFIX: "" }).keyPrefix).toBe("m2m:");
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
    [{ M2M_JWKS_MAX_AGE_SECONDS: "29" }, "M2M_JWKS_MAX_AGE_SECONDS"],
    [{ M2M_JWKS_MAX_AGE_SECONDS: "86401" }, "M2M_JWKS_MAX_AGE_SECONDS"],
    [{ M2M_JWKS_MAX_AGE_SECONDS: "5m" }, "M2M_JWKS_MAX_AGE_SECONDS"],
    [{ REDIS_URL: "redis://a:1", REDIS_CLUSTER_NODES: "a:1" }, "REDIS_CLUSTER_NODES"],
    [{ REDIS_CLUSTER_NODES: "a:1", REDIS_SENTINELS: "b:2", REDIS_SENTINEL_NAME: "m" }, "REDIS_SENTINELS"],
    [{ REDIS_CLUSTER_NODES: "a" }, "REDIS_CLUSTER_NODES"],
    [{ REDIS_CLUSTER_NODES: "a:1,b:99999" }, "REDIS_CLUSTER_NODES"],
    [{ REDIS_SENTINELS: "a:1" }, "REDIS_SENTINEL_NAME"],
    [{ REDIS_URL: "redis://a:1", REDIS_SENTINEL_NAME: "m" }, "REDIS_SENTINEL_NAME"],
    [{ REDIS_URL: "redis://a:1", REDIS_SENTINEL_PASSWORD: "p" }, "REDIS_SENTINEL_PASSWORD"],
    [{ REDIS_PASSWORD: "p" }, "REDIS_PASSWORD"],
    [{ REDIS_URL: "redis://a:1", REDIS_TLS: "maybe" }, "REDIS_TLS"],
    [{ M2M_WORKERS: "2" }, "M2M_WORKERS"],
    [{ M2M_WORKERS: "0", REDIS_URL: "redis://a:1" }, "M2M_WORKERS"],
    [{ M2M_WORKERS: "auto", REDIS_SENTINELS: "a:1", REDIS_SENTINEL_NAME: "bad name" }, "REDIS_SENTINEL_NAME"],
    [{ M2M_WORKERS: "two", REDIS_URL: "redis://a:1" }, "M2M_WORKERS"],
    [{ M2M_KEY_ROTATION_DAYS: "0" }, "M2M_KEY_ROTATION_DAYS"],
    [{ M2M_KEY_ROTATION_DAYS: "-7" }, "M2M_KEY_ROTATION_DAYS"],
    [{ M2M_KEY_ROTATION_DAYS: "weekly" }, "M2M_KEY_ROTATION_DAYS"],
    [{ M2M_KEY_ENCRYPTION_KEY: "not-a-key" }, "M2M_KEY_ENCRYPTION_KEY"],
    [{ M2M_KEY_ENCRYPTION_KEY: "ab".repeat(31) }, "M2M_KEY_ENCRYPTION_KEY"],
    [{ M2M_SECRET_HASH_KEY: "ab".repeat(16) }, "M2M_SECRET_HASH_KEY"],
    [{ M2M_SECRET_HASH_KEY: "cd".repeat(32), M2M_KEY_ENCRYPTION_KEY: "cd".repeat(32) }, "M2M_SECRET_HASH_KEY"],
    [{ M2M_ALLOW_EVICTING_REDIS: "maybe" }, "M2M_ALLOW_EVICTING_REDIS"],
    [{ M2M_STORE_TIMEOUT_MS: "10" }, "M2M_STORE_TIMEOUT_MS"],
    [{ M2M_STORE_TIMEOUT_MS: "0.5s" }, "M2M_STORE_TIMEOUT_MS"],
    [{ M2M_STORE_TIMEOUT_MS: "600000" }, "M2M_STORE_TIMEOUT_MS"],
    [{ M2M_DRAIN_SECONDS: "-1" }, "M2M_DRAIN_SECONDS"],
    [{ M2M_DRAIN_SECONDS: "1.5" }, "M2M_DRAIN_SECONDS"],
    [{ M2M_DRAIN_SECONDS: "301" }, "M2M_DRAIN_SECONDS"],
    // An origin is compared as the exact string a browser sends: no path, slash, default port or capitals.
    [{ M2M_CORS_ORIGINS: "https://app.example.com/" }, "M2M_CORS_ORIGINS"],
    [{ M2M_CORS_ORIGINS: "https://app.example.com:443" }, "M2M_CORS_ORIGINS"],
    [{ M2M_CORS_ORIGINS: "https://App.example.com" }, "M2M_CORS_ORIGINS"],
    [{ M2M_CORS_ORIGINS: "app.example.com" }, "M2M_CORS_ORIGINS"],
    [{ M2M_CORS_ORIGINS: "null" }, "M2M_CORS_ORIGINS"],
    [{ M2M_CORS_ORIGINS: "ftp://app.example.com" }, "M2M_CORS_ORIGINS"],
    [{ M2M_CORS_ORIGINS: "https://a.example.com,,https://b.example.com" }, "M2M_CORS_ORIGINS"],
    [{ M2M_CORS_ORIGINS: "*,https://app.example.com" }, "M2M_CORS_ORIGINS"],
  ];
  it.each(bad)("rejects %j naming %s", (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}:`));
  });

  it("reads the CORS origins: unset is none, `*` alone is any, else an exact list", () => {
    expect(loadConfig({}).corsOrigins).toBeUndefined();
    expect(loadConfig({ M2M_CORS_ORIGINS: "*" }).corsOrigins).toEqual(["*"]);
    const config = loadConfig({ M2M_CORS_ORIGINS: " https://app.example.com, http://localhost:5173 " });
    expect(config.corsOrigins).toEqual(["https://app.example.com", "http://localhost:5173"]);
    expect(Object.isFrozen(config.corsOrigins)).toBe(true);
  });

  it("reads exactly one Redis deployment, with its password and TLS", () => {
    expect(loadConfig({ REDIS_URL: "rediss://h:6380" }).redis).toEqual({ kind: "single", url: "rediss://h:6380", tls: true });
    expect(loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b:7001,[::1]:7002", REDIS_PASSWORD: "pw", REDIS_TLS: "true" }).redis).toEqual({
      kind: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "redis-b", port: 7001 },
        { host: "::1", port: 7002 },
      ],
      password: "pw",
      tls: true,
    });
    expect(loadConfig({ REDIS_SENTINELS: "s1:26379,s2:26379", REDIS_SENTINEL_NAME: "mymaster", REDIS_SENTINEL_PASSWORD: "sp" }).redis).toEqual({
      kind: "sentinel",
      sentinels: [
        { host: "s1", port: 26379 },
        { host: "s2", port: 26379 },
      ],
      name: "mymaster",
      sentinelPassword: "sp",
      tls: false,
    });
  });

  it("runs one worker per core by default with Redis, and one with the memory store", () => {
    expect(loadConfig({}, 8).workers).toBe(1);
    expect(loadConfig({ M2M_WORKERS: "auto" }, 8).workers).toBe(1);
    expect(loadConfig({ M2M_WORKERS: "1" }, 8).workers).toBe(1);
    expect(loadConfig({ REDIS_URL: "redis://h:1" }, 8).workers).toBe(8);
    expect(loadConfig({ REDIS_CLUSTER_NODES: "h:1" }, 3).workers).toBe(3);
    expect(loadConfig({ REDIS_URL: "redis://h:1", M2M_WORKERS: "2" }, 8).workers).toBe(2);
    // RSA signatures use the thread pool only where cores would otherwise sit idle.
    expect(loadConfig({ REDIS_URL: "redis://h:1", M2M_WORKERS: "2" }, 8).signOnThreadPool).toBe(true);
    expect(loadConfig({ REDIS_URL: "redis://h:1" }, 8).signOnThreadPool).toBe(false);
    expect(loadConfig({}, 2).signOnThreadPool).toBe(true);
    expect(loadConfig({}, 1).signOnThreadPool).toBe(false);
  });

  it("bounds auto workers by a container's CPU limit (cgroup v2 and v1)", () => {
    const files = (entries: Record<string, string>) => (path: string) => entries[path];
    expect(cpuQuota(files({ "/sys/fs/cgroup/cpu.max": "250000 100000\n" }))).toBe(2.5);
    expect(cpuQuota(files({ "/sys/fs/cgroup/cpu.max": "max 100000\n" }))).toBeUndefined();
    expect(cpuQuota(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "150000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000" }))).toBe(1.5);
    expect(cpuQuota(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000" }))).toBeUndefined();
    expect(cpuQuota(files({}))).toBeUndefined();
    expect(availableCores()).toBeGreaterThanOrEqual(1);
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
      M2M_STORE_TIMEOUT_MS: "250",
      M2M_DRAIN_SECONDS: "0",
    });
    expect(config).toMatchObject({
      host: "0.0.0.0",
      issuer: "https://auth.example.com",
      signingAlg: "EdDSA",
      admin: { clientId: "admin" },
      logLevel: "debug",
      storeTimeoutMs: 250,
      drainSeconds: 0,
    });
  });

  it("reads the key rotation period and the key encryption key", () => {
    const key = Buffer.alloc(32, 7);
    const config = loadConfig({ M2M_KEY_ROTATION_DAYS: "0.5", M2M_KEY_ENCRYPTION_KEY: key.toString("base64url") });
    expect(config.keyRotationDays).toBe(0.5);
    expect(Buffer.from(config.keyEncryptionKey!).equals(key)).toBe(true);
    expect(loadConfig({ M2M_KEY_ROTATION_DAYS: "90" }).keyRotationDays).toBe(90);
    expect(loadConfig({ M2M_KEY_ENCRYPTION_KEY: key.toString("hex") }).keyEncryptionKey).toEqual(new Uint8Array(key));
    expect(loadConfig({ M2M_JWKS_MAX_AGE_SECONDS: "600" }).jwksMaxAgeSeconds).toBe(600);
  });

  it("reads the secret-hash key and the eviction override", () => {
    const key = Buffer.alloc(32, 7);
    const config = loadConfig({ M2M_SECRET_HASH_KEY: key.toString("base64"), M2M_ALLOW_EVICTING_REDIS: "true" });
    expect(config.secretHashKey).toEqual(new Uint8Array(key));
    expect(config.allowEvictingRedis).toBe(true);
    expect(() => loadConfig({ M2M_SECRET_HASH_KEY: "hunter2-hunter2" })).toThrow(/^(?!.*hunter2)/);
  });

  it("serves gRPC reflection unless M2M_REFLECTION turns it off, and names the variable when it is malformed", () => {
    expect(loadConfig({}).reflection).toBe(true);
    expect(loadConfig({ M2M_REFLECTION: "false" }).reflection).toBe(false);
    expect(loadConfig({ M2M_REFLECTION: "0" }).reflection).toBe(false);
    expect(loadConfig({ M2M_REFLECTION: "true" }).reflection).toBe(true);
    const err = (() => {
      try {
        loadConfig({ M2M_REFLECTION: "off" });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe("M2M_REFLECTION");
  });

  it("never repeats a malformed key encryption key in the error", () => {
    expect(() => loadConfig({ M2M_KEY_ENCRYPTION_KEY: "hunter2-hunter2" })).toThrow(/^(?!.*hunter2)/);
  });

  it("reads M2M_AUDIT_LOG as a file it can append to, keeping what the file holds, and names the variable when it cannot", () => {
    const dir = mkdtempSync(join(tmpdir(), "m2m-config-"));
    expect(loadConfig({}).auditLog).toBeUndefined();
    const path = join(dir, "audit.log");
    writeFileSync(path, "kept\n");
    expect(loadConfig({ M2M_AUDIT_LOG: path }).auditLog).toBe(path);
    expect(readFileSync(path, "utf8")).toBe("kept\n");
    // No directory is made for it.
    for (const bad of [dir, join(dir, "missing", "audit.log")]) {
      const err = (() => {
        try {
          return loadConfig({ M2M_AUDIT_LOG: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe("M2M_AUDIT_LOG");
      expect((err as Error).message).toContain("cannot be opened for append");
    }
    expect(existsSync(join(dir, "missing"))).toBe(false);
  });
});

describe("M2M_FEDERATED_ISSUERS", () => {
  it("reads a comma-separated list of https issuers, http on loopback only", () => {
    expect(loadConfig({}).federatedIssuers).toEqual([]);
    const issuers = "https://token.actions.githubusercontent.com, http://127.0.0.1:9999,http://localhost:1/realm,http://[::1]:8/";
    expect(loadConfig({ M2M_FEDERATED_ISSUERS: issuers }).federatedIssuers).toEqual([
      "https://token.actions.githubusercontent.com",
      "http://127.0.0.1:9999",
      "http://localhost:1/realm",
      "http://[::1]:8/",
    ]);
    expect(Object.isFrozen(loadConfig({ M2M_FEDERATED_ISSUERS: issuers }).federatedIssuers)).toBe(true);
  });

  it.each([
    ["http://10.0.0.1", /must use https/],
    ["http://169.254.169.254", /must use https/],
    ["http://localhost.example.com", /must use https/],
    ["ftp://issuer.example", /must use http/],
    ["not a url", /must be a URL/],
    ["https://a.example,,https://b.example", /empty issuer/],
    ["https://a.example?x=1", /query/],
    ["https://user:pw@a.example", /user info/],
    ["https://a.example,https://a.example", /twice/],
  ])("refuses %s, naming the variable", (value, message) => {
    expect(() => loadConfig({ M2M_FEDERATED_ISSUERS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ M2M_FEDERATED_ISSUERS: value })).toThrow(/^M2M_FEDERATED_ISSUERS: /);
    expect(() => loadConfig({ M2M_FEDERATED_ISSUERS: value })).toThrow(message);
  });
});

describe("M2M_CLIENT_JWKS_ORIGINS", () => {
  it("reads comma-separated https origins, http on loopback only; unset is none", () => {
    expect(loadConfig({}).clientJwksOrigins).toEqual([]);
    const value = "https://keys.acmecorp.example, https://keys.partner.example:8443,http://127.0.0.1:9999,http://localhost:1,http://[::1]:8";
    const origins = loadConfig({ M2M_CLIENT_JWKS_ORIGINS: value }).clientJwksOrigins;
    expect(origins).toEqual([
      "https://keys.acmecorp.example",
      "https://keys.partner.example:8443",
      "http://127.0.0.1:9999",
      "http://localhost:1",
      "http://[::1]:8",
    ]);
    expect(Object.isFrozen(origins)).toBe(true);
  });

  it.each([
    ["http://10.0.0.1", /must use https/],
    ["http://169.254.169.254", /must use https/],
    ["https://keys.example/jwks", /is not an origin/],
    ["https://keys.example/", /is not an origin/],
    ["https://keys.example:443", /is not an origin/],
    ["https://Keys.Example", /is not an origin/],
    ["ftp://keys.example", /is not an origin/],
    ["*", /is not an origin/],
    ["https://a.example,,https://b.example", /empty origin/],
    ["https://a.example,https://a.example", /twice/],
  ])("refuses %s, naming the variable", (value, message) => {
    expect(() => loadConfig({ M2M_CLIENT_JWKS_ORIGINS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ M2M_CLIENT_JWKS_ORIGINS: value })).toThrow(/^M2M_CLIENT_JWKS_ORIGINS: /);
    expect(() => loadConfig({ M2M_CLIENT_JWKS_ORIGINS: value })).toThrow(message);
  });

  it("reads the failed-authentication limits and the ValidateToken rate; a pair limit at or above the client's is refused", () => {
    expect(loadConfig({})).toMatchObject({
      authFailures: { windowSeconds: 60, perClientAddress: 10, perClient: 50, perAddress: 100 },
      validateTokenPerSecond: 1000,
    });
    const set = loadConfig({
      M2M_AUTH_FAILURE_WINDOW_SECONDS: "300",
      M2M_AUTH_FAILURES_PER_CLIENT: "0",
      M2M_AUTH_FAILURES_PER_ADDRESS: "50",
      M2M_VALIDATE_TOKEN_PER_SECOND: "0",
    });
    expect(set).toMatchObject({ authFailures: { windowSeconds: 300, perClient: 0, perAddress: 50 }, validateTokenPerSecond: 0 });
    expect(Object.isFrozen(set.authFailures)).toBe(true);
    for (const [env, name] of [
      [{ M2M_AUTH_FAILURE_WINDOW_SECONDS: "0" }, "M2M_AUTH_FAILURE_WINDOW_SECONDS"],
      [{ M2M_AUTH_FAILURES_PER_CLIENT: "-1" }, "M2M_AUTH_FAILURES_PER_CLIENT"],
      [{ M2M_AUTH_FAILURES_PER_ADDRESS: "1.5" }, "M2M_AUTH_FAILURES_PER_ADDRESS"],
      [{ M2M_AUTH_FAILURES_PER_CLIENT: "10", M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS: "10" }, "M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS"],
      [{ M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS: "0" }, "M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS"],
      [{ M2M_VALIDATE_TOKEN_PER_SECOND: "fast" }, "M2M_VALIDATE_TOKEN_PER_SECOND"],
    ] as const) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(new RegExp(`^${name}: `));
    }
  });
});
