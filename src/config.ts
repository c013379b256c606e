import { signingAlgorithms, type SigningAlgorithm } from "./keys/algorithms.js";

/** LogLevel is a pino level name. */
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Config is the validated, frozen service configuration. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** redisUrl is undefined when the embedded in-memory store is used. */
  readonly redisUrl: string | undefined;
  readonly keyPrefix: string;
  /** issuer is the `iss` of every token and the audience of the management API. */
  readonly issuer: string;
  readonly signingAlg: SigningAlgorithm;
  /** admin is the environment's own admin credentials; undefined: bootstrap them in the store. */
  readonly admin: { readonly clientId: string; readonly clientSecret: string } | undefined;
  /** keyRotationDays rotates the signing key automatically this often; undefined: only on request. */
  readonly keyRotationDays: number | undefined;
  /** keyEncryptionKey (32 bytes) encrypts private signing keys at rest; undefined: stored in clear. */
  readonly keyEncryptionKey: Uint8Array | undefined;
  readonly logLevel: LogLevel;
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

function url(name: string, raw: string, protocols: readonly string[]): string {
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
  url("M2M_ISSUER", raw, ["http:", "https:"]);
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
  // A guessed admin secret is a full takeover: ask for 256 bits' worth (43 base64url characters,
  // e.g. `openssl rand -base64 32`), and refuse what is plainly not random. At most 256, the
  // longest secret the token endpoint accepts.
  if (clientSecret.length < 43 || clientSecret.length > 256 || new Set(clientSecret).size < 16) {
    throw new ConfigError("M2M_ADMIN_CLIENT_SECRET", "must be 43 to 256 characters of random data (e.g. openssl rand -base64 32)");
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

function keyEncryptionKey(env: Env): Uint8Array | undefined {
  const raw = read(env, "M2M_KEY_ENCRYPTION_KEY");
  if (raw === undefined) return undefined;
  // 32 bytes (AES-256): 64 hex digits, or base64 / base64url (44 characters padded, 43 unpadded).
  let key: Buffer | undefined;
  if (/^[0-9A-Fa-f]{64}$/.test(raw)) key = Buffer.from(raw, "hex");
  else if (/^[A-Za-z0-9+/]{43}=?$/.test(raw) || /^[A-Za-z0-9_-]{43}=?$/.test(raw)) key = Buffer.from(raw, /[_-]/.test(raw) ? "base64url" : "base64");
  // The value is a secret: the message never repeats it.
  if (key?.length !== 32) throw new ConfigError("M2M_KEY_ENCRYPTION_KEY", "must be 32 bytes as 64 hex digits or base64/base64url (43-44 characters)");
  return new Uint8Array(key);
}

/** loadConfig reads and validates the environment once; it throws ConfigError naming a bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const listenPort = port(env);
  const redisUrl = read(env, "REDIS_URL");
  if (redisUrl !== undefined) url("REDIS_URL", redisUrl, ["redis:", "rediss:"]);
  const keyPrefix = env["M2M_KEY_PREFIX"] ?? "m2m:";
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError("M2M_KEY_PREFIX", "must be 1-64 characters of A-Z a-z 0-9 _ . : - (no braces: they are hash tags)");
  }
  return Object.freeze({
    host: read(env, "HOST") ?? "127.0.0.1",
    port: listenPort,
    redisUrl,
    keyPrefix,
    issuer: issuer(env, listenPort),
    signingAlg: oneOf(env, "M2M_SIGNING_ALG", signingAlgorithms, "RS256"),
    admin: admin(env),
    keyRotationDays: keyRotationDays(env),
    keyEncryptionKey: keyEncryptionKey(env),
    logLevel: oneOf(env, "LOG_LEVEL", logLevels, "info"),
  });
}
