import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { defaultStoreTimeoutMs, type RedisConnectionOptions, type RedisNode } from "./store/redis-connection.js";
import { ConfigError, flag, read, urlOf, type Env } from "./config-values.js";

// Where the service runs: which Redis deployment, how long a store call may take, how many worker
// processes. Read by loadConfig (config.ts) with the rest of the environment.

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

/** redisDeployment reads REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (exactly one) and their options; undefined: none. */
export function redisDeployment(env: Env): RedisConnectionOptions | undefined {
  const url = read(env, "REDIS_URL");
  const cluster = nodes(env, "REDIS_CLUSTER_NODES");
  const sentinels = nodes(env, "REDIS_SENTINELS");
  const given = [url && "REDIS_URL", cluster && "REDIS_CLUSTER_NODES", sentinels && "REDIS_SENTINELS"].filter(Boolean);
  if (given.length > 1)
    throw new ConfigError(String(given[1]), `set exactly one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS (also set: ${given[0]})`);
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

// Under 50 ms an ordinary latency spike (a slow Lua script, a busy network) would read as an outage.
const minStoreTimeoutMs = 50;
const maxStoreTimeoutMs = 60_000;

/** storeTimeoutMs reads M2M_STORE_TIMEOUT_MS: the bound of every Redis connect and command. */
export function storeTimeoutMs(env: Env): number {
  const raw = read(env, "M2M_STORE_TIMEOUT_MS") ?? String(defaultStoreTimeoutMs);
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms < minStoreTimeoutMs || ms > maxStoreTimeoutMs) {
    throw new ConfigError("M2M_STORE_TIMEOUT_MS", `must be ${minStoreTimeoutMs} to ${maxStoreTimeoutMs} (ms), got "${raw}"`);
  }
  return ms;
}

/** workerCount reads M2M_WORKERS: `auto` is `cores` with Redis, 1 without; more than 1 needs Redis. */
export function workerCount(env: Env, store: RedisConnectionOptions | undefined, cores: number): number {
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
export function cpuQuota(readFile: (path: string) => string | undefined = readSysFile): number | undefined {
  const v2 = readFile("/sys/fs/cgroup/cpu.max")?.trim().split(/\s+/);
  const [quota, period] = v2 ?? [readFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")?.trim(), readFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us")?.trim()];
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
