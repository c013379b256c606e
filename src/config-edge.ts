import { closeSync, openSync } from "node:fs";
import { createTrustedProxies } from "./http/request-origin.js";
import { readTlsFiles, TlsFileError, type TlsFiles } from "./http/tls-files.js";
import { isLoopbackHost } from "./rules.js";
import { defaultAuthThrottleLimits, type AuthThrottleLimits } from "./tokens/auth-throttle.js";
import { ConfigError, read, urlOf, wholeNumber, type Env } from "./config-values.js";

// What faces the network and the tenants: TLS, the proxies believed, the only URLs ever fetched
// (federated issuers, clients' jwks_uri origins), the audit file and the abuse limits. Read by
// loadConfig (config.ts) with the rest of the environment.

/** federatedIssuers reads M2M_FEDERATED_ISSUERS: https issuer URLs (http on loopback only), no query, fragment or user info, none twice. */
export function federatedIssuers(env: Env): readonly string[] {
  const name = "M2M_FEDERATED_ISSUERS";
  const raw = read(env, name);
  if (raw === undefined) return Object.freeze([]);
  const issuers = raw.split(",").map((value) => value.trim());
  for (const value of issuers) {
    if (value === "") throw new ConfigError(name, "lists an empty issuer (two commas, or a trailing one)");
    urlOf(name, value, ["http:", "https:"]);
    const url = new URL(value);
    // RFC 8414 §2 / OpenID Discovery §4.3: an issuer is an https URL without query or fragment,
    // compared as an exact string; http only on this host, for a local test issuer.
    if (/[?#]/.test(value) || url.username !== "" || url.password !== "")
      throw new ConfigError(name, `"${value}" must not have a query, fragment or user info`);
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname))
      throw new ConfigError(name, `"${value}" must use https (http only on 127.0.0.0/8, ::1 or localhost)`);
  }
  if (new Set(issuers).size !== issuers.length) throw new ConfigError(name, "lists an issuer twice");
  return Object.freeze(issuers);
}

/** clientJwksOrigins reads M2M_CLIENT_JWKS_ORIGINS: serialized https origins (http on loopback only), none twice. */
export function clientJwksOrigins(env: Env): readonly string[] {
  const name = "M2M_CLIENT_JWKS_ORIGINS";
  const raw = read(env, name);
  if (raw === undefined) return Object.freeze([]);
  const list = raw.split(",").map((value) => value.trim());
  for (const value of list) {
    if (value === "") throw new ConfigError(name, "lists an empty origin (two commas, or a trailing one)");
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      // Reported below.
    }
    // Compared with a jwks_uri's origin as an exact string: only the serialized form will do.
    if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:") || url.origin !== value) {
      throw new ConfigError(name, `"${value}" is not an origin (https://host[:port], no path, no trailing slash, no default port)`);
    }
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname))
      throw new ConfigError(name, `"${value}" must use https (http only on 127.0.0.0/8, ::1 or localhost)`);
  }
  if (new Set(list).size !== list.length) throw new ConfigError(name, "lists an origin twice");
  return Object.freeze(list);
}

/** trustedProxies reads M2M_TRUSTED_PROXIES: addresses and CIDR ranges whose X-Forwarded-For is believed. */
export function trustedProxies(env: Env): readonly string[] {
  const name = "M2M_TRUSTED_PROXIES";
  const list = (read(env, name) ?? "")
    .split(",")
    .map((value) => value.trim())
    .filter((value) => value !== "");
  try {
    createTrustedProxies(list);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message);
  }
  return Object.freeze(list);
}

/** authFailures reads the failed-authentication limits (M2M_AUTH_FAILURE_WINDOW_SECONDS, M2M_AUTH_FAILURES_PER_*). */
export function authFailures(env: Env): AuthThrottleLimits {
  const limits = {
    windowSeconds: wholeNumber(env, "M2M_AUTH_FAILURE_WINDOW_SECONDS", defaultAuthThrottleLimits.windowSeconds, 1, 86_400),
    perClientAddress: wholeNumber(env, "M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS", defaultAuthThrottleLimits.perClientAddress, 0, 10_000),
    perClient: wholeNumber(env, "M2M_AUTH_FAILURES_PER_CLIENT", defaultAuthThrottleLimits.perClient, 0, 10_000),
    perAddress: wholeNumber(env, "M2M_AUTH_FAILURES_PER_ADDRESS", defaultAuthThrottleLimits.perAddress, 0, 10_000),
  };
  // One address must be blocked for a client id before it alone can block the id for everyone (see tokens/auth-throttle.ts).
  if (limits.perClient > 0 && (limits.perClientAddress === 0 || limits.perClientAddress >= limits.perClient)) {
    throw new ConfigError(
      "M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS",
      `must be 1 to ${limits.perClient - 1}: below M2M_AUTH_FAILURES_PER_CLIENT (${limits.perClient}), unless that is 0 (off)`,
    );
  }
  return Object.freeze(limits);
}

/** auditLog reads M2M_AUDIT_LOG, a file opened once here for append so a path that cannot be written stops the start. */
export function auditLog(env: Env): string | undefined {
  const name = "M2M_AUDIT_LOG";
  const path = read(env, name);
  if (path === undefined) return undefined;
  // Opened here, once, so a path that cannot be written stops the start instead of losing events.
  try {
    closeSync(openSync(path, "a"));
  } catch (err) {
    throw new ConfigError(name, `cannot be opened for append (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ${path}`);
  }
  return path;
}

/** tlsFiles reads TLS_CERT_FILE and TLS_KEY_FILE (both or neither), checking the pair before anything starts. */
export function tlsFiles(env: Env): Readonly<TlsFiles> | undefined {
  const certFile = read(env, "TLS_CERT_FILE");
  const keyFile = read(env, "TLS_KEY_FILE");
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) throw new ConfigError("TLS_CERT_FILE", "is required when TLS_KEY_FILE is set");
  if (keyFile === undefined) throw new ConfigError("TLS_KEY_FILE", "is required when TLS_CERT_FILE is set");
  try {
    readTlsFiles({ certFile, keyFile });
  } catch (err) {
    if (err instanceof TlsFileError) throw new ConfigError(err.file === "cert" ? "TLS_CERT_FILE" : "TLS_KEY_FILE", err.message);
    throw err;
  }
  return Object.freeze({ certFile, keyFile });
}

/**
 * metricsPort reads METRICS_PORT: when set, GET /metrics is served on this port only (not on the
 * service port, which tenants reach); 1..65535 and not PORT. Undefined: on the service port.
 */
export function metricsPort(env: Env, servicePort: number): number | undefined {
  const name = "METRICS_PORT";
  if (read(env, name) === undefined) return undefined;
  const value = wholeNumber(env, name, 0, 1, 65535);
  if (value === servicePort) throw new ConfigError(name, `must differ from PORT (${servicePort}); unset it to serve /metrics on the service port`);
  return value;
}
