import type { Redis } from "ioredis";
import { pino } from "pino";
import type { SigningAlgorithm } from "../../src/keys/algorithms.js";
import { createM2MServer } from "../../src/server.js";
import type { Store } from "../../src/store/client-store.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { createRedisConnection } from "../../src/store/redis-connection.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { announceFailure, announceReady, serveParent } from "../ipc.js";

// Our token service, composed as main.ts does, in a process of its own. Configured through env:
// BENCH_ALG, BENCH_STORE (memory | redis), BENCH_REDIS_URL, BENCH_KEY_PREFIX, BENCH_ADMIN_SECRET.

/** RedisCommandCount is how many commands this server sent to Redis, in all and by name. */
export interface RedisCommandCount {
  total: number;
  byName: Record<string, number>;
}

/** countCommands wraps `redis.sendCommand` so every command this process sends is counted. */
function countCommands(redis: Redis): RedisCommandCount {
  const count: RedisCommandCount = { total: 0, byName: {} };
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis["sendCommand"]>) => {
    const name = args[0].name.toLowerCase();
    count.total++;
    count.byName[name] = (count.byName[name] ?? 0) + 1;
    return send(...args);
  };
  return count;
}

/** env reads a required environment variable. */
function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** main starts the server and serves the parent's requests until it is stopped. */
async function main(): Promise<void> {
  const alg = env("BENCH_ALG") as SigningAlgorithm;
  let redis: Redis | undefined;
  let store: Store;
  let count: RedisCommandCount | undefined;
  if (env("BENCH_STORE") === "redis") {
    redis = createRedisConnection(env("BENCH_REDIS_URL")) as Redis;
    count = countCommands(redis);
    store = createRedisStore({ redis, keyPrefix: env("BENCH_KEY_PREFIX") });
  } else {
    store = createMemoryStore();
  }
  const server = await createM2MServer({
    host: "127.0.0.1",
    port: 0,
    issuer: "http://m2m-auth.bench",
    signingAlg: alg,
    admin: { clientId: "bench-admin", clientSecret: env("BENCH_ADMIN_SECRET") },
    store,
    logger: pino({ level: "silent" }),
  });
  const { url } = await server.listen();
  serveParent({ redisCommands: () => (count ? { total: count.total, byName: { ...count.byName } } : null) }, async () => {
    await server.close();
    await store.close();
    await redis?.quit().catch(() => redis?.disconnect());
  });
  announceReady({ url, adminClientId: "bench-admin", signingAlg: server.keyRing.current().alg });
}

main().catch(announceFailure);
