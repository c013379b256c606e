import cluster from "node:cluster";
import { isIPv6 } from "node:net";
import { createAuditLog, openAuditFile } from "./audit.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { loadIssuerState } from "./issuer-state.js";
import { KeyEncryptionError } from "./keys/key-encryption.js";
import { reservePort, PortUnavailableError, type ReservedPort } from "./http/reserved-port.js";
import { openLogger } from "./logger.js";
import { isLoopbackHost } from "./rules.js";
import { notifyListening, releaseWorker, startPrimary } from "./primary.js";
import { createM2MServer } from "./server.js";
import { StoreStateError } from "./state/store-state-error.js";
import type { Store } from "./store/client-store.js";
import { createMemoryStore } from "./store/memory-store.js";
import { assertRedisReachable, StoreUnreachableError } from "./store/redis-reachable.js";
import { createRedisStore } from "./store/redis-store.js";
import { aggregateWorkers, offerToPrimary } from "./telemetry/cluster-metrics.js";
import { createMetrics } from "./telemetry/metrics.js";
import { startMetricsServer, type MetricsServer } from "./telemetry/metrics-server.js";

// The composition root: config → store → server → listener, and the process's signals. With
// M2M_WORKERS > 1 this process is the primary, and each worker it forks runs this file again and
// serves as one process does.

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
const logger = await openLogger({ level: config.logLevel, format: config.logFormat });
// Once per start: by the primary, or the one process.
if (cluster.isPrimary) for (const warning of config.unknownVariables) logger.warn(warning);

function openStore(): Store {
  if (config.redis !== undefined) return createRedisStore({ connection: config.redis, keyPrefix: config.keyPrefix, timeoutMs: config.storeTimeoutMs });
  logger.warn("REDIS_URL is not set: using the embedded in-memory store; nothing persists across restarts");
  return createMemoryStore();
}

function showAdminCredentials(credentials: { clientId: string; clientSecret: string }): void {
  // Shown once, on the terminal only, never through the logger: it is a secret.
  process.stderr.write(
    "\nm2m-auth created admin credentials (shown once; set M2M_ADMIN_CLIENT_ID/_SECRET to use your own):\n" +
      `  client_id:     ${credentials.clientId}\n  client_secret: ${credentials.clientSecret}\n\n`,
  );
}

async function failStart(err: unknown, store?: Store): Promise<void> {
  logger.fatal({ err }, "start failed");
  logger.flush();
  await store?.close().catch(() => undefined);
  // Signing keys the configuration cannot open are a configuration error, like a bad variable.
  if (err instanceof KeyEncryptionError) process.stderr.write(`m2m-auth: invalid configuration: ${err.message}\n`);
  // State the store lacks or that disagrees with the configuration: the operator is told what to do.
  if (err instanceof StoreStateError) process.stderr.write(`m2m-auth: refusing to start: ${err.message}\n`);
  // A busy port or an unreachable Redis: said in a line, without a stack (exit code 1).
  if (err instanceof PortUnavailableError || err instanceof StoreUnreachableError) process.stderr.write(`m2m-auth: ${err.message}\n`);
  process.exitCode = err instanceof KeyEncryptionError ? 2 : err instanceof StoreStateError ? err.exitCode : 1;
  releaseWorker();
}

const stateOptions = {
  issuer: config.issuer,
  signingAlg: config.signingAlg,
  admin: config.admin,
  keyEncryptionKey: config.keyEncryptionKey,
  secretHashKey: config.secretHashKey,
  allowEvictingStore: config.allowEvictingRedis,
  keyRotationDays: config.keyRotationDays,
  jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
  logger,
};

/**
 * prepareStart binds the port, then checks that Redis answers, before any state is read or made:
 * a start that cannot serve fails before it bootstraps (and prints) admin credentials. A worker
 * skips both: its primary did them, and node:cluster binds the port for it.
 */
async function prepareStart(): Promise<ReservedPort | undefined | "failed"> {
  if (!cluster.isPrimary) return undefined;
  let reserved: ReservedPort | undefined;
  try {
    reserved = await reservePort(config.host, config.port);
    if (config.redis !== undefined) await assertRedisReachable({ ...config.redis, timeoutMs: config.storeTimeoutMs });
    return reserved;
  } catch (err) {
    await reserved?.release();
    await failStart(err);
    return "failed";
  }
}

/** openMetricsPort serves GET /metrics on METRICS_PORT, when set, with `scrape`. */
async function openMetricsPort(scrape: () => Promise<string>, contentType: string): Promise<MetricsServer | undefined> {
  if (config.metricsPort === undefined) return undefined;
  const onError = (err: unknown) => logger.error({ err }, "metrics scrape failed");
  const server = await startMetricsServer({ host: config.host, port: config.metricsPort, scrape, contentType, onError });
  logger.info({ url: server.url }, "serving metrics");
  return server;
}

/** serve runs the service in this process: all of it with one worker, else one of the workers. */
async function serve(): Promise<void> {
  const reserved = await prepareStart();
  if (reserved === "failed") return;
  const store = openStore();
  const metrics = createMetrics({ clientLabels: config.metricsClientLabels, processMetrics: true });
  // A worker's registry is summed with the others' by the primary, which serves METRICS_PORT;
  // on the service port a worker asks the primary for the sum (telemetry/cluster-metrics.ts).
  const everyWorker = cluster.isWorker ? offerToPrimary(metrics.registry) : undefined;
  let metricsServer: MetricsServer | undefined;
  // Every worker appends to the one file (whole lines per write; see audit.ts).
  const auditFile = config.auditLog === undefined ? undefined : openAuditFile(config.auditLog, (err) => logger.error({ err }, "audit log write failed"));
  // Installed first, so that a SIGHUP during the start (by default it ends the process) is only
  // held, and reloads once the server can: the start may have read the files before the change.
  let reloadTls: (() => void) | undefined;
  let reloadPending = false;
  if (config.tls !== undefined) process.on("SIGHUP", () => (reloadTls === undefined ? (reloadPending = true) : reloadTls()));
  try {
    if (!cluster.isWorker) metricsServer = await openMetricsPort(() => metrics.scrape(), metrics.contentType);
    const server = await createM2MServer({
      ...stateOptions,
      host: config.host,
      port: config.port,
      reservedPort: reserved,
      clientCacheMs: config.clientCacheMs,
      signOnThreadPool: config.signOnThreadPool,
      reflection: config.reflection,
      corsOrigins: config.corsOrigins,
      federatedIssuers: config.federatedIssuers,
      clientJwksOrigins: config.clientJwksOrigins,
      trustedProxies: config.trustedProxies,
      authFailures: config.authFailures,
      validateTokenPerSecond: config.validateTokenPerSecond,
      audit: createAuditLog({ logger, destination: auditFile?.destination }),
      tls: config.tls,
      store,
      metrics,
      metricsScrape: config.metricsPort !== undefined ? false : everyWorker,
    });
    reloadTls = () => {
      try {
        logger.info({ signal: "SIGHUP", ...server.reloadTls() }, "TLS certificate reloaded: new connections use it");
      } catch (err) {
        logger.error({ signal: "SIGHUP", err: err instanceof Error ? err.message : String(err) }, "TLS reload failed: keeping the certificate in use");
      }
    };
    if (reloadPending) reloadTls();
    const { url } = await server.listen();
    // With workers, the primary prepared the state before forking: a worker never bootstraps.
    if (server.adminCredentials) showAdminCredentials(server.adminCredentials);
    // Signals are handled before anyone learns the URL: the primary (or a test) may send SIGTERM
    // the moment it hears of it, and an unhandled one would kill the process without a drain.
    let stopping = false;
    const stop = (signal: string) => {
      // A second signal must not cut the drain short: systemd signals every process of a unit,
      // so a worker hears SIGTERM from it and again from the primary.
      if (stopping) return;
      stopping = true;
      logger.info({ signal, drainSeconds: config.drainSeconds }, "shutting down");
      server
        .close({ drainMs: config.drainSeconds * 1000 })
        .then(() => store.close())
        .then(() => metricsServer?.close())
        // After the server: the last calls' events are in the file before the process ends.
        .then(() => auditFile?.close())
        .then(() => {
          logger.info("stopped");
          logger.flush();
          process.exitCode = 0;
        })
        .catch((err: unknown) => {
          logger.error({ err }, "shutdown failed");
          logger.flush();
          process.exitCode = 1;
        })
        .finally(releaseWorker);
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    logger.info({ url, issuer: config.issuer, store: config.redis?.kind ?? "memory", alg: server.keyRing.current().alg }, "listening");
    notifyListening(url);
  } catch (err) {
    await auditFile?.close();
    await reserved?.release();
    await metricsServer?.close();
    await failStart(err, store);
  }
}

/**
 * supervise prepares the shared state once (so credentials print once, and a start error such as
 * Redis unreachable or undecryptable keys ends this process instead of crash-looping workers),
 * lets go of the store, then forks, watches and drains the workers.
 */
async function supervise(): Promise<void> {
  // Held while the state is prepared, then let go for node:cluster to bind for the workers: the
  // port is free for the few milliseconds until the first worker listens.
  const reserved = await prepareStart();
  if (reserved === "failed") return;
  const store = openStore();
  const workers = aggregateWorkers();
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await openMetricsPort(workers.scrape, workers.contentType);
    const state = await loadIssuerState({ ...stateOptions, store, now: Date.now });
    await state.close();
    await store.close();
    await reserved?.release();
    if (state.adminCredentials) showAdminCredentials(state.adminCredentials);
  } catch (err) {
    await reserved?.release();
    await metricsServer?.close();
    await failStart(err, store);
    return;
  }
  // A worker drains for M2M_DRAIN_SECONDS, then has the listener's own bound to finish its
  // in-flight requests: only a worker still busy well past both is killed.
  const primary = startPrimary({ workers: config.workers, logger, stopTimeoutMs: config.drainSeconds * 1000 + 30_000 });
  process.on("SIGTERM", () => primary.stop("SIGTERM"));
  process.on("SIGINT", () => primary.stop("SIGINT"));
  if (config.tls !== undefined) process.on("SIGHUP", () => primary.reload());
  process.exitCode = await primary.exited;
  await metricsServer?.close();
  logger.flush();
}

/**
 * warnIfCleartext says once per start (by the primary, or the one process) that tokens and
 * secrets cross this port in clear. On a loopback-only host only a local proxy or sidecar (or a
 * developer) can reach it, which is the intended way to add TLS in front: info, not warn, so the
 * warning keeps meaning something where it is given.
 */
function warnIfCleartext(): void {
  if (config.tls !== undefined || !cluster.isPrimary) return;
  const line = { host: config.host, port: config.port };
  const message = "serving cleartext HTTP: the token endpoint must sit behind TLS (a mesh or a proxy), or set TLS_CERT_FILE and TLS_KEY_FILE";
  if (isLoopbackHost(isIPv6(config.host) ? `[${config.host}]` : config.host)) logger.info(line, message);
  else logger.warn(line, message);
}

warnIfCleartext();
if (config.workers > 1 && cluster.isPrimary) await supervise();
else await serve();
