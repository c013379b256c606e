import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import type { BenchConfig } from "../config.js";
import type { LoadGenerator } from "../load.js";
import { startChild, type BenchChild } from "../processes.js";
import { claimPrefix } from "../redis.js";
import type { RedisCommandCount } from "../servers/m2m.js";
import { basicAuth, checkToken } from "../scenarios/check-token.js";
import { adminToken, measureListing } from "./listing.js";
import { keyMemory, memorySnapshot, secretUseBytes } from "./memory.js";
import type { ScaleOptions } from "./options.js";
import { registerClients } from "./register.js";
import type { ScalePoint, ScaleReport, TokenLoad } from "./scale-report.js";

// One point of the scale curve per client count: a fresh server on a fresh key prefix, N clients
// registered in one organization (the worst case for listing), then memory, token load and
// listing measured in that order, and the prefix deleted.

// Every client is in this one organization, so the last page is as deep as it can be.
const organizationId = "org_scale";

/** Progress reports what the group is doing. */
export type Progress = (message: string) => void;

/** tokenRequest is the client_secret_basic token request of one client. */
const tokenRequest = (clientId: string, clientSecret: string) => ({
  headers: { authorization: basicAuth(clientId, clientSecret), "content-type": "application/x-www-form-urlencoded" },
  body: "grant_type=client_credentials",
});

/** runScalePoint measures one client count on a server of its own. */
async function runScalePoint(count: number, load: LoadGenerator, config: BenchConfig, options: ScaleOptions, progress: Progress): Promise<ScalePoint> {
  const redisUrl = config.redisUrl as string;
  const keyPrefix = `m2mbench:${randomBytes(4).toString("hex")}:`;
  const adminSecret = randomBytes(32).toString("base64url");
  const release = claimPrefix(redisUrl, keyPrefix);
  const loadavgStart = loadavg()[0] ?? 0;
  let server: BenchChild<{ url: string }> | undefined;
  try {
    server = await startChild("./servers/m2m.ts", {
      env: { BENCH_ALG: options.alg, BENCH_STORE: "redis", BENCH_REDIS_URL: redisUrl, BENCH_KEY_PREFIX: keyPrefix, BENCH_ADMIN_SECRET: adminSecret },
    });
    const { url } = server.ready;
    const before = await memorySnapshot(redisUrl);
    progress(`scale ${count}: registering`);
    const keep = Math.min(count, options.rotate);
    const registered = await registerClients({ redisUrl, keyPrefix, organizationId, count, concurrency: options.concurrency, keep });
    const after = await memorySnapshot(redisUrl);
    const keys = await keyMemory(
      redisUrl,
      keyPrefix,
      organizationId,
      registered.kept.slice(0, 50).map((c) => c.clientId),
    );

    const [hot] = registered.kept;
    if (!hot) throw new Error("the registration kept no credentials");
    const tokenUrl = `${url}/oauth/token`;
    await checkToken({ url: tokenUrl, ...tokenRequest(hot.clientId, hot.clientSecret) }, options.alg);
    const running = server;
    const commands = () => running.request<RedisCommandCount>("redisCommands");
    // The server's own count of what it sent Redis shows whether each token still reads its record.
    const run = async (label: string, request: Parameters<LoadGenerator["run"]>[0], clients: number): Promise<TokenLoad> => {
      progress(`scale ${count}: tokens, ${label}`);
      let sentBefore: RedisCommandCount | undefined;
      const sample = await load.run(request, {
        warmupS: config.warmupS,
        durationS: config.durationS,
        serverPids: [running.pid],
        between: async () => void (sentBefore = await commands()),
      });
      const sent = await commands();
      const perToken = (n: number, n0: number | undefined) => (n - (n0 ?? 0)) / Math.max(sample.total, 1);
      return {
        ...sample,
        clients,
        redisPerToken: { all: perToken(sent.total, sentBefore?.total), get: perToken(sent.byName["get"] ?? 0, sentBefore?.byName["get"]) },
      };
    };
    const rotate = registered.kept.map((c) => tokenRequest(c.clientId, c.clientSecret));
    const rotateRequest = { url: tokenUrl, method: "POST" as const, headers: {}, rotate, connections: config.connections };
    // A fresh server's first load runs partly unoptimized code: warm it once, unmeasured, so
    // whichever load is measured first is not the slower for it.
    progress(`scale ${count}: warming the server up`);
    await load.run(rotateRequest, { warmupS: 0, durationS: config.warmupS });
    const hotLoad = await run(
      "one client",
      { url: tokenUrl, method: "POST", connections: config.connections, ...tokenRequest(hot.clientId, hot.clientSecret) },
      1,
    );
    const rotateLoad = await run(`${rotate.length} clients in turn`, rotateRequest, rotate.length);

    progress(`scale ${count}: listing`);
    const token = await adminToken(url, "bench-admin", adminSecret);
    const listing = await measureListing(url, token, organizationId, options.pageSize, options.listRepeats);
    // Read last: by now the server has flushed the load's secret uses (every second).
    const useBytes = await secretUseBytes(
      redisUrl,
      keyPrefix,
      registered.kept.slice(0, 50).map((c) => c.clientId),
    );
    return {
      clients: count,
      organizationId,
      registration: { ms: registered.ms, perSec: (count / registered.ms) * 1000, concurrency: options.concurrency },
      memory: {
        usedBefore: before.usedMemory,
        usedAfter: after.usedMemory,
        usedPerClient: (after.usedMemory - before.usedMemory) / count,
        // Keys other than the N records and the one index (other users of a shared Redis) skew usedPerClient.
        otherKeysDelta: after.keys - before.keys - (count + 1),
        ...keys,
        indexPerClient: keys.indexBytes / Math.max(keys.indexEntries, 1),
        ...(useBytes === undefined ? {} : { secretUseBytes: useBytes }),
      },
      tokens: { hot: hotLoad, rotate: rotateLoad },
      listing,
      loadavg: { start: loadavgStart, end: loadavg()[0] ?? 0 },
    };
  } finally {
    await server?.stop();
    progress(`scale ${count}: deleting its keys`);
    await release();
  }
}

/** runScaleGroup measures every client count in turn; a count that fails is recorded with its reason. */
export async function runScaleGroup(load: LoadGenerator, config: BenchConfig, options: ScaleOptions, progress: Progress): Promise<ScaleReport> {
  const points: ScaleReport["points"] = [];
  if (!config.redisUrl) return { options, points, skipped: "no Redis to run on" };
  for (const count of options.counts) {
    progress(`scale ${count}: starting`);
    try {
      points.push(await runScalePoint(count, load, config, options, progress));
    } catch (err) {
      const reason = err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
      progress(`scale ${count} failed: ${reason}`);
      points.push({ clients: count, skipped: reason });
    }
  }
  return { options, points };
}
