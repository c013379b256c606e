import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { signingAlgorithms, type SigningAlgorithm } from "./keys/algorithms.js";
import { defaultJwksMaxAgeSeconds } from "./keys/rotation-guard.js";
import { maxClientCacheMs } from "./store/client-record-cache.js";
import { defaultStoreTimeoutMs, type RedisConnectionOptions, type RedisNode } from "./store/redis-connection.js";

/** LogLevel is a pino level name. */
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Config is the validated, frozen service configuration. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /**
   * redis is the Redis deployment (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS); undefined
   * when the embedded in-memory store is used.
   */
  readonly redis: RedisConnectionOptions | undefined;
  /** workers is how many processes serve the port (M2M_WORKERS); 1 serves in this process. */
  readonly workers: number;
  /**
   * signOnThreadPool is true when there are fewer workers than cores: RSA signatures then go to
   * libuv's thread pool to use the idle cores; with a worker per core they are cheaper inline.
   */
  readonly signOnThreadPool: boolean;
  readonly keyPrefix: string;
  /** issuer is the `iss` of every token and the audience of the management API. */
  readonly issuer: string;
  readonly signingAlg: SigningAlgorithm;
  /** admin is the environment's own admin credentials; undefined: bootstrap them in the store. */
  readonly admin: { readonly clientId: string; readonly clientSecret: string } | undefined;
  /** keyRotationDays rotates the signing key automatically this often; undefined: only on request. */
  readonly keyRotationDays: number | undefined;
  /**
   * jwksMaxAgeSeconds is the JWKS `Cache-Control` max-age, and how long a next key is published
   * before a rotation may make it sign (M2M_JWKS_MAX_AGE_SECONDS).
   */
  readonly jwksMaxAgeSeconds: number;
  /** keyEncryptionKey (32 bytes) encrypts private signing keys at rest; undefined: stored in clear. */
  readonly keyEncryptionKey: Uint8Array | undefined;
  /** secretHashKey (32 bytes, M2M_SECRET_HASH_KEY) keys the secrets' HMAC; undefined: a key made once and kept in the store. */
  readonly secretHashKey: Uint8Array | undefined;
  /** allowEvictingRedis (M2M_ALLOW_EVICTING_REDIS) starts on a Redis whose maxmemory-policy evicts keys, with a warning. */
  readonly allowEvictingRedis: boolean;
  readonly logLevel: LogLevel;
  /**
   * clientCacheMs is how long a worker may answer the token path from its own copy of a client
   * record (M2M_CLIENT_CACHE_MS, 0 = off); writes drop copies everywhere at once through Redis pub/sub.
   */
  readonly clientCacheMs: number;
  /**
   * storeTimeoutMs bounds every Redis connection attempt and command (M2M_STORE_TIMEOUT_MS): a
   * request that needs a store that is down or hung answers 503 within it.
   */
  readonly storeTimeoutMs: number;
  /**
   * drainSeconds is how long a stopping process keeps serving, not ready, so balancers move
   * traffic away before it stops accepting (M2M_DRAIN_SECONDS; 0 = stop at once).
   */
  readonly drainSeconds: number;
}

/** ConfigError names the environment variable that is wrong and why. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const logLevels: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === "" ? undefined : value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = read(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

function port(env: Env): number {
  const raw = read(env, "PORT") ?? "8080";
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535) throw new ConfigError("PORT", `must be 0..65535, got "${raw}"`);
  return value;
}

function urlOf(name: string, raw: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // Never echo the value: a Redis URL may carry a password.
    throw new ConfigError(name, "must be a URL");
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
  }
  return raw;
}

function issuer(env: Env, listenPort: number): string {
  const raw = read(env, "M2M_ISSUER") ?? `http://localhost:${listenPort}`;
  urlOf("M2M_ISSUER", raw, ["http:", "https:"]);
  // RFC 8414 §2: an issuer has no query or fragment. A trailing slash is kept as written, since
  // `iss` is compared as an exact string.
  if (/[?#]/.test(raw)) throw new ConfigError("M2M_ISSUER", "must not have a query or fragment");
  return raw;
}

function admin(env: Env): Config["admin"] {
  const clientId = read(env, "M2M_ADMIN_CLIENT_ID");
  const clientSecret = read(env, "M2M_ADMIN_CLIENT_SECRET");
  if (clientId === undefined && clientSecret === undefined) return undefined;
  if (clientId === undefined) throw new ConfigError("M2M_ADMIN_CLIENT_ID", "is required when M2M_ADMIN_CLIENT_SECRET is set");
  if (clientSecret === undefined) throw new ConfigError("M2M_ADMIN_CLIENT_SECRET", "is required when M2M_ADMIN_CLIENT_ID is set");
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(clientId)) {
    throw new ConfigError("M2M_ADMIN_CLIENT_ID", "must be 1-128 characters of A-Z a-z 0-9 _ . : -");
  }
  // A guessed admin secret is a full takeover: ask for 256 bits' worth (43 base64url characters;
  // base64's + and / would need form-encoding in Basic credentials, RFC 6749 §2.3.1), and refuse
  // what is plainly not random. At most 256, the longest secret the token endpoint accepts.
  if (clientSecret.length < 43 || clientSecret.length > 256 || new Set(clientSecret).size < 16) {
    throw new ConfigError("M2M_ADMIN_CLIENT_SECRET", "must be 43 to 256 characters of random data (e.g. openssl rand -base64 32 | tr '+/' '-_')");
  }
  return Object.freeze({ clientId, clientSecret });
}

function keyRotationDays(env: Env): number | undefined {
  const raw = read(env, "M2M_KEY_ROTATION_DAYS");
  if (raw === undefined) return undefined;
  const days = Number(raw);
  // Fractions are allowed (tests rotate every few seconds); rotate less often than verifiers
  // refresh their JWKS cache, or a token may meet a verifier that does not know its key yet.
  if (!/^\d+(\.\d+)?$/.test(raw) || !(days > 0)) throw new ConfigError("M2M_KEY_ROTATION_DAYS", `must be a positive number of days, got "${raw}"`);
  return days;
}

function jwksMaxAgeSeconds(env: Env): number {
  const raw = read(env, "M2M_JWKS_MAX_AGE_SECONDS") ?? String(defaultJwksMaxAgeSeconds);
  const seconds = Number(raw);
  // At least the unknown-kid refetch cooldown of common verifiers (the interceptor's and jose's,
  // 30 s), or a rotation could reach one that may not refetch yet (see keys/rotation-guard.ts).
  if (!/^\d+$/.test(raw) || seconds < 30 || seconds > 86_400) throw new ConfigError("M2M_JWKS_MAX_AGE_SECONDS", `must be 30 to 86400 (s), got "${raw}"`);
  return seconds;
}

function key32(env: Env, name: string): Uint8Array | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  // 32 bytes (256 bits): 64 hex digits, or base64 / base64url (44 characters padded, 43 unpadded).
  let key: Buffer | undefined;
  if (/^[0-9A-Fa-f]{64}$/.test(raw)) key = Buffer.from(raw, "hex");
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(raw) || /^[A-Za-z0-9_-]{43}=?$/.test(raw)) key = Buffer.from(raw, /[_-]/.test(raw) ? "base64url" : "base64");
  // The value is a secret: the message never repeats it.
  if (key?.length !== 32) throw new ConfigError(name, "must be 32 bytes as 64 hex digits or base64/base64url (43-44 characters)");
  return new Uint8Array(key);
}

function secretHashKey(env: Env, encryptionKey: Uint8Array | undefined): Uint8Array | undefined {
  const key = key32(env, "M2M_SECRET_HASH_KEY");
  // One key for two algorithms (HMAC and AES-GCM) and two purposes is one leak away from both.
  if (key !== undefined && encryptionKey !== undefined && Buffer.from(key).equals(encryptionKey)) {
    throw new ConfigError("M2M_SECRET_HASH_KEY", "must differ from M2M_KEY_ENCRYPTION_KEY");
  }
  return key;
}

function nodes(env: Env, name: string): RedisNode[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const list = raw.split(",").map((entry) => entry.trim());
  return list.map((entry) => {
    // host:port, or [v6]:port. Never echo the value: lists are short, but keep config errors clean.
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match?.[1] || !(port >= 1 && port <= 65535)) throw new ConfigError(name, "must be a comma-separated list of host:port");
    return { host: match[1].replace(/^\[|\]$/g, ""), port };
  });
}

function flag(env: Env, name: string): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined || raw === "0" || raw === "false" || raw === "no") return false;
  if (raw === "1" || raw === "true" || raw === "yes") return true;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function redis(env: Env): RedisConnectionOptions | undefined {
  const url = read(env, "REDIS_URL");
  const cluster = nodes(env, "REDIS_CLUSTER_NODES");
  const sentinels = nodes(env, "REDIS_SENTINELS");
  const given = [url && "REDIS_URL", cluster && "REDIS_CLUSTER_NODES", sentinels && "REDIS_SENTINELS"].filter(Boolean);
  if (given.length > 1) throw new ConfigError(String(given[1]), `set exactly one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS (also set: ${given[0]})`);
  const name = read(env, "REDIS_SENTINEL_NAME");
  if (sentinels === undefined && name !== undefined) throw new ConfigError("REDIS_SENTINEL_NAME", "is only used with REDIS_SENTINELS");
  const password = read(env, "REDIS_PASSWORD");
  const sentinelPassword = read(env, "REDIS_SENTINEL_PASSWORD");
  if (sentinelPassword !== undefined && sentinels === undefined) throw new ConfigError("REDIS_SENTINEL_PASSWORD", "is only used with REDIS_SENTINELS");
  const tls = flag(env, "REDIS_TLS");
  if (given.length === 0) {
    for (const variable of ["REDIS_PASSWORD", "REDIS_TLS"]) {
      if (read(env, variable) !== undefined) throw new ConfigError(variable, "needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS");
    }
    return undefined;
  }
  const common = { ...(password !== undefined ? { password } : {}), tls };
  if (url !== undefined) {
    urlOf("REDIS_URL", url, ["redis:", "rediss:"]);
    // A rediss:// URL turns TLS on by itself (ioredis reads it); REDIS_TLS may say so too.
    return Object.freeze({ kind: "single", url, ...common, tls: tls || url.startsWith("rediss:") });
  }
  if (cluster !== undefined) return Object.freeze({ kind: "cluster", nodes: cluster, ...common });
  if (name === undefined) throw new ConfigError("REDIS_SENTINEL_NAME", "is required with REDIS_SENTINELS (the monitored primary's name)");
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw new ConfigError("REDIS_SENTINEL_NAME", "must be 1-128 characters of A-Z a-z 0-9 _ . -");
  return Object.freeze({ kind: "sentinel", sentinels: sentinels ?? [], name, ...common, ...(sentinelPassword !== undefined ? { sentinelPassword } : {}) });
}

function clientCacheMs(env: Env): number {
  const raw = read(env, "M2M_CLIENT_CACHE_MS") ?? "500";
  const ms = Number(raw);
  // Bounded so that a deleted client, secret or scope stops working within a second even on a
  // worker whose change feed failed without noticing.
  if (!/^\d+$/.test(raw) || ms > maxClientCacheMs) throw new ConfigError("M2M_CLIENT_CACHE_MS", `must be 0 to ${maxClientCacheMs} (ms), got "${raw}"`);
  return ms;
}

// Under 50 ms an ordinary latency spike (a slow Lua script, a busy network) would read as an outage.
const minStoreTimeoutMs = 50;
const maxStoreTimeoutMs = 60_000;

function storeTimeoutMs(env: Env): number {
  const raw = read(env, "M2M_STORE_TIMEOUT_MS") ?? String(defaultStoreTimeoutMs);
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms < minStoreTimeoutMs || ms > maxStoreTimeoutMs) {
    throw new ConfigError("M2M_STORE_TIMEOUT_MS", `must be ${minStoreTimeoutMs} to ${maxStoreTimeoutMs} (ms), got "${raw}"`);
  }
  return ms;
}

// Longer than any balancer's health-check window needs; an orchestrator's grace period
// (Kubernetes: terminationGracePeriodSeconds, 30 s by default) must exceed it.
const maxDrainSeconds = 300;

function drainSeconds(env: Env): number {
  const raw = read(env, "M2M_DRAIN_SECONDS") ?? "5";
  const seconds = Number(raw);
  if (!/^\d+$/.test(raw) || seconds > maxDrainSeconds) throw new ConfigError("M2M_DRAIN_SECONDS", `must be 0 to ${maxDrainSeconds} (seconds), got "${raw}"`);
  return seconds;
}

function workers(env: Env, store: RedisConnectionOptions | undefined, cores: number): number {
  const raw = read(env, "M2M_WORKERS") ?? (store === undefined ? "1" : "auto");
  const count = raw === "auto" ? (store === undefined ? 1 : cores) : Number(raw);
  if (raw !== "auto" && (!/^\d+$/.test(raw) || count < 1 || count > 256)) throw new ConfigError("M2M_WORKERS", `must be auto or 1-256, got "${raw}"`);
  // Workers are separate processes: an in-memory store would give each one its own clients and keys.
  if (count > 1 && store === undefined) {
    throw new ConfigError("M2M_WORKERS", `more than 1 worker needs a shared store: set REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (got "${raw}")`);
  }
  return count;
}

/** cpuQuota reads a cgroup CPU limit as cores (v2 `cpu.max`, v1 `cfs_quota_us`/`cfs_period_us`); undefined: none. */
export function cpuQuota(read: (path: string) => string | undefined = readSysFile): number | undefined {
  const v2 = read("/sys/fs/cgroup/cpu.max")?.trim().split(/\s+/);
  const [quota, period] = v2 ?? [read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")?.trim(), read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")?.trim()];
  const cores = Number(quota) / Number(period);
  return Number.isFinite(cores) && cores > 0 ? cores : undefined;
}

function readSysFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * availableCores is what M2M_WORKERS=auto means: the cores this process may run on, bounded by
 * a container's CPU limit (os.availableParallelism() sees the whole node, not the limit), at least 1.
 */
export function availableCores(): number {
  const quota = cpuQuota();
  return Math.max(1, Math.min(availableParallelism(), quota === undefined ? Infinity : Math.ceil(quota)));
}

/** loadConfig reads and validates the environment once; it throws ConfigError naming a bad variable. */
export function loadConfig(env: Env = process.env, cores: number = availableCores()): Config {
  const listenPort = port(env);
  const store = redis(env);
  const workerCount = workers(env, store, cores);
  const keyPrefix = env["M2M_KEY_PREFIX"] ?? "m2m:";
  const encryptionKey = key32(env, "M2M_KEY_ENCRYPTION_KEY");
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError("M2M_KEY_PREFIX", "must be 1-64 characters of A-Z a-z 0-9 _ . : - (no braces: they are hash tags)");
  }
  return Object.freeze({
    host: read(env, "HOST") ?? "127.0.0.1",
    port: listenPort,
    redis: store,
    workers: workerCount,
    signOnThreadPool: workerCount < cores,
    keyPrefix,
    issuer: issuer(env, listenPort),
    signingAlg: oneOf(env, "M2M_SIGNING_ALG", signingAlgorithms, "RS256"),
    admin: admin(env),
    keyRotationDays: keyRotationDays(env),
    jwksMaxAgeSeconds: jwksMaxAgeSeconds(env),
    keyEncryptionKey: encryptionKey,
    secretHashKey: secretHashKey(env, encryptionKey),
    allowEvictingRedis: flag(env, "M2M_ALLOW_EVICTING_REDIS"),
    logLevel: oneOf(env, "LOG_LEVEL", logLevels, "info"),
    clientCacheMs: clientCacheMs(env),
    storeTimeoutMs: storeTimeoutMs(env),
    drainSeconds: drainSeconds(env),
  });
}
