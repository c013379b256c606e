import { defaultValidateTokenPerSecond } from "./tokens/address-rate-limit.js";
import type { TlsFiles } from "./http/tls-files.js";
import { signingAlgorithms, type SigningAlgorithm } from "./keys/algorithms.js";
import { clientIdPattern } from "./rules.js";
import { defaultJwksMaxAgeSeconds } from "./keys/rotation-guard.js";
import { maxClientCacheMs } from "./store/client-record-cache.js";
import type { AuthThrottleLimits } from "./tokens/auth-throttle.js";
import type { RedisConnectionOptions } from "./store/redis-connection.js";
import { availableCores, redisDeployment, storeTimeoutMs, workerCount } from "./config-deployment.js";
import { ConfigError, flag, key32, oneOf, origins, read, urlOf, wholeNumber, type Env } from "./config-values.js";
import { unknownVariables } from "./config-variables.js";
import { auditLog, authFailures, clientJwksOrigins, federatedIssuers, metricsPort, tlsFiles, trustedProxies } from "./config-edge.js";

export { ConfigError } from "./config-values.js";
export { availableCores, cpuQuota } from "./config-deployment.js";

/** LogLevel is a pino level name. */
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** LogFormat is how log lines are written: JSON lines, or pino-pretty's for a person at a terminal. */
export type LogFormat = "json" | "pretty";

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
  /** logFormat (LOG_FORMAT) is `json` (default) or `pretty` (needs the pino-pretty package, a dev dependency). */
  readonly logFormat: LogFormat;
  /** unknownVariables are warnings for set M2M_ variables that nothing reads (typos), each naming the nearest known one. */
  readonly unknownVariables: readonly string[];
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
  /** reflection serves gRPC server reflection, v1 and v1alpha (M2M_REFLECTION, default true). */
  readonly reflection: boolean;
  /**
   * corsOrigins are the browser origins allowed to call across origins (M2M_CORS_ORIGINS), or
   * `["*"]` for any; undefined: no CORS headers at all.
   */
  readonly corsOrigins: readonly string[] | undefined;
  /**
   * federatedIssuers are the external OpenID issuers clients may authenticate with tokens of
   * (M2M_FEDERATED_ISSUERS): the only URLs whose discovery documents and keys are ever fetched.
   */
  readonly federatedIssuers: readonly string[];
  /**
   * clientJwksOrigins are the origins a client's `jwks_uri` may be on (M2M_CLIENT_JWKS_ORIGINS):
   * the only places the service fetches a client's keys from; empty: no jwks_uri is accepted.
   */
  readonly clientJwksOrigins: readonly string[];
  /**
   * trustedProxies are the addresses and CIDR ranges of proxies whose X-Forwarded-For names the
   * source address (M2M_TRUSTED_PROXIES); empty: the peer's address is the source.
   */
  readonly trustedProxies: readonly string[];
  /**
   * authFailures limit failed client authentications per client id and per source address in a
   * sliding window (M2M_AUTH_FAILURE_WINDOW_SECONDS, M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS, M2M_AUTH_FAILURES_PER_CLIENT,
   * M2M_AUTH_FAILURES_PER_ADDRESS).
   */
  readonly authFailures: AuthThrottleLimits;
  /** validateTokenPerSecond bounds ValidateToken calls per source address and process (M2M_VALIDATE_TOKEN_PER_SECOND; 0: none). */
  readonly validateTokenPerSecond: number;
  /**
   * auditLog is a file every audit event is also appended to (M2M_AUDIT_LOG), checked at start to
   * open for append; undefined: audit events go to the service log only.
   */
  readonly auditLog: string | undefined;
  /**
   * tls names the PEM certificate and key files (TLS_CERT_FILE, TLS_KEY_FILE) the port serves TLS
   * with, checked at start and read again on SIGHUP; undefined: cleartext.
   */
  readonly tls: Readonly<TlsFiles> | undefined;
  /** metricsPort serves GET /metrics on a port of its own (METRICS_PORT), and not on the service port; undefined: on the service port. */
  readonly metricsPort: number | undefined;
  /** metricsClientLabels labels the token counters with the client id (METRICS_CLIENT_LABELS): a series per client. */
  readonly metricsClientLabels: boolean;
}

const logLevels: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const logFormats: readonly LogFormat[] = ["json", "pretty"];

function port(env: Env): number {
  return wholeNumber(env, "PORT", 8080, 0, 65535);
}

function issuer(env: Env, listenPort: number, secure: boolean): string {
  const raw = read(env, "M2M_ISSUER") ?? `${secure ? "https" : "http"}://localhost:${listenPort}`;
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
  if (!clientIdPattern.test(clientId)) {
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

function secretHashKey(env: Env, encryptionKey: Uint8Array | undefined): Uint8Array | undefined {
  const key = key32(env, "M2M_SECRET_HASH_KEY");
  // One key for two algorithms (HMAC and AES-GCM) and two purposes is one leak away from both.
  if (key !== undefined && encryptionKey !== undefined && Buffer.from(key).equals(encryptionKey)) {
    throw new ConfigError("M2M_SECRET_HASH_KEY", "must differ from M2M_KEY_ENCRYPTION_KEY");
  }
  return key;
}

function clientCacheMs(env: Env): number {
  const raw = read(env, "M2M_CLIENT_CACHE_MS") ?? "500";
  const ms = Number(raw);
  // Bounded so that a deleted client, secret or scope stops working within a second even on a
  // worker whose change feed failed without noticing.
  if (!/^\d+$/.test(raw) || ms > maxClientCacheMs) throw new ConfigError("M2M_CLIENT_CACHE_MS", `must be 0 to ${maxClientCacheMs} (ms), got "${raw}"`);
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

/** loadConfig reads and validates the environment once; it throws ConfigError naming a bad variable. */
export function loadConfig(env: Env = process.env, cores: number = availableCores()): Config {
  const listenPort = port(env);
  const store = redisDeployment(env);
  const workers = workerCount(env, store, cores);
  const keyPrefix = read(env, "M2M_KEY_PREFIX") ?? "m2m:";
  const encryptionKey = key32(env, "M2M_KEY_ENCRYPTION_KEY");
  const tls = tlsFiles(env);
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError("M2M_KEY_PREFIX", "must be 1-64 characters of A-Z a-z 0-9 _ . : - (no braces: they are hash tags)");
  }
  return Object.freeze({
    host: read(env, "HOST") ?? "127.0.0.1",
    port: listenPort,
    redis: store,
    workers,
    signOnThreadPool: workers < cores,
    keyPrefix,
    issuer: issuer(env, listenPort, tls !== undefined),
    signingAlg: oneOf(env, "M2M_SIGNING_ALG", signingAlgorithms, "RS256"),
    admin: admin(env),
    keyRotationDays: keyRotationDays(env),
    jwksMaxAgeSeconds: jwksMaxAgeSeconds(env),
    keyEncryptionKey: encryptionKey,
    secretHashKey: secretHashKey(env, encryptionKey),
    allowEvictingRedis: flag(env, "M2M_ALLOW_EVICTING_REDIS"),
    logLevel: oneOf(env, "LOG_LEVEL", logLevels, "info"),
    logFormat: oneOf(env, "LOG_FORMAT", logFormats, "json"),
    unknownVariables: unknownVariables(env),
    clientCacheMs: clientCacheMs(env),
    storeTimeoutMs: storeTimeoutMs(env),
    drainSeconds: drainSeconds(env),
    reflection: flag(env, "M2M_REFLECTION", true),
    corsOrigins: origins(env, "M2M_CORS_ORIGINS"),
    federatedIssuers: federatedIssuers(env),
    clientJwksOrigins: clientJwksOrigins(env),
    trustedProxies: trustedProxies(env),
    authFailures: authFailures(env),
    validateTokenPerSecond: wholeNumber(env, "M2M_VALIDATE_TOKEN_PER_SECOND", defaultValidateTokenPerSecond, 0, 1_000_000),
    auditLog: auditLog(env),
    tls,
    metricsPort: metricsPort(env, listenPort),
    metricsClientLabels: flag(env, "METRICS_CLIENT_LABELS"),
  });
}
