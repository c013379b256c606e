import { ConfigError, loadConfig, type Config } from "./config.js";
import { KeyEncryptionError } from "./keys/key-encryption.js";
import { createLogger } from "./logger.js";
import { createM2MServer } from "./server.js";
import type { Store } from "./store/client-store.js";
import { createMemoryStore } from "./store/memory-store.js";
import { createRedisStore } from "./store/redis-store.js";

// The composition root: config → store → server → listener, and the process's signals.

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`m2m-auth: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const config = readConfig();
const logger = createLogger({ level: config.logLevel });

let store: Store;
if (config.redis === undefined) {
  logger.warn("REDIS_URL is not set: using the embedded in-memory store; nothing persists across restarts");
  store = createMemoryStore();
} else {
  store = createRedisStore({ connection: config.redis, keyPrefix: config.keyPrefix });
}

try {
  const server = await createM2MServer({
    host: config.host,
    port: config.port,
    issuer: config.issuer,
    signingAlg: config.signingAlg,
    admin: config.admin,
    keyEncryptionKey: config.keyEncryptionKey,
    keyRotationDays: config.keyRotationDays,
    clientCacheMs: config.clientCacheMs,
    store,
    logger,
  });
  if (server.adminCredentials) {
    // Shown once, on the terminal only, never through the logger: it is a secret.
    process.stderr.write(
      "\nm2m-auth created admin credentials (shown once; set M2M_ADMIN_CLIENT_ID/_SECRET to use your own):\n" +
        `  client_id:     ${server.adminCredentials.clientId}\n  client_secret: ${server.adminCredentials.clientSecret}\n\n`,
    );
  }
  const { url } = await server.listen();
  logger.info({ url, issuer: config.issuer, store: config.redis?.kind ?? "memory", alg: server.keyRing.current().alg }, "listening");

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    server
      .close()
      .then(() => store.close())
      .then(() => {
        logger.info("stopped");
        logger.flush();
        process.exitCode = 0;
      })
      .catch((err: unknown) => {
        logger.error({ err }, "shutdown failed");
        logger.flush();
        process.exitCode = 1;
      });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
} catch (err) {
  logger.fatal({ err }, "start failed");
  logger.flush();
  await store.close().catch(() => undefined);
  // Signing keys the configuration cannot open are a configuration error, like a bad variable.
  if (err instanceof KeyEncryptionError) process.stderr.write(`m2m-auth: invalid configuration: ${err.message}\n`);
  process.exitCode = err instanceof KeyEncryptionError ? 2 : 1;
}
