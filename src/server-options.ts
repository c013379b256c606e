// What a server is made of, and the checks its options get before anything starts.
import type { Logger } from "pino";
import type { AuditLog } from "./audit.js";
import type { SigningAlgorithm } from "./keys/algorithms.js";
import type { Readiness } from "./readiness.js";
import type { ReservedPort } from "./http/reserved-port.js";
import { createTrustedProxies } from "./http/request-origin.js";
import { readTlsFiles, TlsFileError, type TlsFileCredentials, type TlsFiles } from "./http/tls-files.js";
import type { Store } from "./store/client-store.js";
import type { Metrics } from "./telemetry/metrics.js";
import { checkAuthThrottleLimits, type AuthThrottleLimits } from "./tokens/auth-throttle.js";
import type { ClientJwksUriKeysOptions } from "./tokens/client-jwks-uri-keys.js";
import type { FederatedKeysOptions } from "./tokens/federated-keys.js";

/** M2MServerOptions is everything the server is made of; main.ts fills it from Config. */
export interface M2MServerOptions {
  host: string;
  port: number;
  /** reservedPort is the port main.ts bound before the start (reservePort); the listener takes it over. */
  reservedPort?: ReservedPort | undefined;
  issuer: string;
  signingAlg: SigningAlgorithm;
  admin?: { clientId: string; clientSecret: string } | undefined;
  /** store is owned by the caller, who closes it after the server. */
  store: Store;
  logger: Logger;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
  /** keyEncryptionKey (32 bytes, M2M_KEY_ENCRYPTION_KEY) encrypts private signing keys at rest. */
  keyEncryptionKey?: Uint8Array | undefined;
  /** secretHashKey (32 bytes, M2M_SECRET_HASH_KEY) is the secret-hash key; undefined: the store keeps one. */
  secretHashKey?: Uint8Array | undefined;
  /** allowEvictingStore (M2M_ALLOW_EVICTING_REDIS) starts on a Redis that may evict keys, with a warning. */
  allowEvictingStore?: boolean | undefined;
  /** keyRotationDays (M2M_KEY_ROTATION_DAYS) rotates the signing key automatically; undefined: never. */
  keyRotationDays?: number | undefined;
  /** keyReloadIntervalMs is how soon a rotation on another instance, or a loss of the store's state, is noticed; default 2000. */
  keyReloadIntervalMs?: number;
  /** keyRotationCheckIntervalMs is how often the rotation period is checked; default 60_000. */
  keyRotationCheckIntervalMs?: number;
  /**
   * jwksMaxAgeSeconds (M2M_JWKS_MAX_AGE_SECONDS) is the JWKS `Cache-Control` max-age, and how long
   * a next key is published before a rotation may make it sign; default 300.
   */
  jwksMaxAgeSeconds?: number | undefined;
  /** usageFlushIntervalMs bounds how stale a secret's last_used_time may be; default 1000. */
  usageFlushIntervalMs?: number;
  /**
   * clientCacheMs (M2M_CLIENT_CACHE_MS) lets the token path reuse a client record this long,
   * when the store announces changes (Redis); 0 or undefined: one store read per token.
   */
  clientCacheMs?: number | undefined;
  /**
   * signOnThreadPool signs RS256 tokens on libuv's thread pool, so one process uses every core;
   * with a worker per core the hand-off only costs (main.ts decides). Default false.
   */
  signOnThreadPool?: boolean | undefined;
  /** readiness collects the conditions `/readyz` reports; default a fresh one. */
  readiness?: Readiness | undefined;
  /** reflection (M2M_REFLECTION) serves gRPC server reflection, v1 and v1alpha; default true. */
  reflection?: boolean | undefined;
  /** corsOrigins (M2M_CORS_ORIGINS) are the browser origins allowed to call across origins, `["*"]` any; undefined: no CORS. */
  corsOrigins?: readonly string[] | undefined;
  /** console serves the admin console at `/console` (src/http/console-routes.ts); default true. */
  console?: boolean | undefined;
  /** consoleDir holds the built console; default the package's dist/console (a test builds its own elsewhere). */
  consoleDir?: string | undefined;
  /**
   * federatedIssuers (M2M_FEDERATED_ISSUERS) are the external OpenID issuers whose tokens clients
   * may authenticate with; the only URLs the service ever fetches. Default none.
   */
  federatedIssuers?: readonly string[] | undefined;
  /** federatedFetch tunes how the federated issuers are read (deadline, cooldown, a test's fetch); default the outbound policy's. */
  federatedFetch?: Pick<FederatedKeysOptions, "timeoutMs" | "cooldownMs" | "discoveryMaxAgeMs" | "fetch"> | undefined;
  /** clientJwksOrigins (M2M_CLIENT_JWKS_ORIGINS) are the origins a client's jwks_uri may be on: the only ones its keys are fetched from. */
  clientJwksOrigins?: readonly string[] | undefined;
  /** clientJwksFetch tunes how clients' jwks_uri documents are read (deadline, cooldown, ages, a test's fetch); default the outbound policy's. */
  clientJwksFetch?: Omit<ClientJwksUriKeysOptions, "origins" | "now" | "onError"> | undefined;
  /**
   * trustedProxies (M2M_TRUSTED_PROXIES) are addresses and CIDR ranges of proxies whose
   * X-Forwarded-For names the source address (throttling, audit); default none: the peer's address.
   */
  trustedProxies?: readonly string[] | undefined;
  /** audit records who changed what (audit.ts); default the service log, `audit: true`. */
  audit?: AuditLog | undefined;
  /**
   * authFailures limits failed client authentications per client id and per source address over
   * a sliding window (M2M_AUTH_FAILURE_WINDOW_SECONDS, M2M_AUTH_FAILURES_PER_CLIENT,
   * M2M_AUTH_FAILURES_PER_ADDRESS, …_PER_CLIENT_ADDRESS); default, in 60 s, 10 for a client id from one address, 50 per client id, 100 per address.
   */
  authFailures?: AuthThrottleLimits | undefined;
  /** validateTokenPerSecond (M2M_VALIDATE_TOKEN_PER_SECOND) bounds ValidateToken calls per source address and process; 0: none; default 1000. */
  validateTokenPerSecond?: number | undefined;
  /**
   * tls (TLS_CERT_FILE, TLS_KEY_FILE) serves the port over TLS with the PEM certificate and key
   * in these files, read again by M2MServer.reloadTls; default cleartext.
   */
  tls?: TlsFiles | undefined;
  /** metrics records what the server does (METRICS_CLIENT_LABELS, process metrics); default a registry of its own. */
  metrics?: Metrics | undefined;
  /**
   * metricsScrape answers `GET /metrics` on the service port: default this server's registry; with
   * workers, every worker's (asked of the primary); false: not served there (METRICS_PORT is set).
   */
  metricsScrape?: (() => Promise<string>) | false | undefined;
}

/** readServerTls reads options.tls's files, or throws a TypeError naming the option (undefined without TLS). */
export function readServerTls(options: M2MServerOptions): TlsFileCredentials | undefined {
  if (options.tls === undefined) return undefined;
  try {
    return readTlsFiles(options.tls);
  } catch (err) {
    if (err instanceof TlsFileError) throw new TypeError(`createM2MServer: options.tls.${err.file}File: ${err.message}`, { cause: err });
    throw err;
  }
}

// Checked before anything starts: a refused option must not leave the issuer state's timers running.
/** checkServerOptions throws a TypeError naming an option that cannot be honoured. */
export function checkServerOptions(options: M2MServerOptions): void {
  if (options.trustedProxies !== undefined) {
    try {
      createTrustedProxies(options.trustedProxies);
    } catch (err) {
      throw new TypeError(`createM2MServer: options.trustedProxies: ${(err as Error).message}`, { cause: err });
    }
  }
  if (options.authFailures !== undefined) checkAuthThrottleLimits(options.authFailures, "createM2MServer: options.authFailures");
  const perSecond = options.validateTokenPerSecond;
  if (perSecond !== undefined && (!Number.isSafeInteger(perSecond) || perSecond < 0)) {
    throw new TypeError(`createM2MServer: options.validateTokenPerSecond must be a non-negative integer, got ${String(perSecond)}`);
  }
  for (const option of ["usageFlushIntervalMs", "keyRotationCheckIntervalMs", "keyReloadIntervalMs"] as const) {
    const value = options[option];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new TypeError(`createM2MServer: options.${option} must be a positive whole number of ms, got ${String(value)}`);
    }
  }
}
