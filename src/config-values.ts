// How one environment variable is read: trimmed (empty = unset), checked, and refused with a
// ConfigError naming it. config.ts and config-deployment.ts read every variable through these.

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

/** Env is the environment loadConfig reads: the process's, or a test's own. */
export type Env = Readonly<Record<string, string | undefined>>;

/** read returns the trimmed value of `name`, or undefined when it is unset or empty. */
export function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === "" ? undefined : value;
}

/** oneOf reads `name` as one of `allowed`, or `fallback` when unset. */
export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = read(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** urlOf checks that `raw` (the value of `name`) is a URL of one of `protocols`; it never echoes the value. */
export function urlOf(name: string, raw: string, protocols: readonly string[]): string {
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

/** key32 reads `name` as 32 bytes (64 hex digits or base64/base64url); undefined when unset. */
export function key32(env: Env, name: string): Uint8Array | undefined {
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

/** flag reads `name` as a boolean (true/false, 1/0, yes/no); `fallback` (false) when unset. */
export function flag(env: Env, name: string, fallback = false): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === "0" || raw === "false" || raw === "no") return false;
  if (raw === "1" || raw === "true" || raw === "yes") return true;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/**
 * origins reads `name` as comma-separated exact web origins (RFC 6454 §6.2 serialization:
 * `scheme://host[:port]`, as a browser sends it in `Origin`), or `*` alone; undefined when unset.
 */
export function origins(env: Env, name: string): readonly string[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const list = raw.split(",").map((origin) => origin.trim());
  if (list.includes("*")) {
    if (list.length > 1) throw new ConfigError(name, "`*` allows every origin and cannot be listed with others");
    return Object.freeze(["*"]);
  }
  for (const origin of list) {
    let serialized: string | undefined;
    try {
      const url = new URL(origin);
      if (url.protocol === "http:" || url.protocol === "https:") serialized = url.origin;
    } catch {
      // Reported below, with the rest.
    }
    // Compared as exact strings with the Origin header, so only the form a browser sends will do:
    // lower-case host, no default port, no path, no trailing slash.
    if (serialized !== origin) throw new ConfigError(name, `"${origin}" is not an http(s) origin as a browser sends it (scheme://host[:port], no path)`);
  }
  return Object.freeze(list);
}

/** wholeNumber reads a whole number in [min, max], `fallback` when unset; ConfigError naming the variable otherwise. */
export function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name) ?? String(fallback);
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new ConfigError(name, `must be ${min} to ${max}, got "${raw}"`);
  return Number(raw);
}
