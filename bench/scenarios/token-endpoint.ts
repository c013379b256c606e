import { randomBytes } from "node:crypto";
import type { BenchConfig } from "../config.js";
import type { LoadGenerator } from "../load.js";
import { startChild } from "../processes.js";
import { startService } from "../service-process.js";
import { claimPrefix, commandStats, statsDelta, type CommandStats } from "../redis.js";
import type { RedisCommandCount } from "../servers/m2m.js";
import { basicAuth, checkToken, type TokenRequest } from "./check-token.js";
import type { Alg, RedisRoundTrips, ScenarioResult } from "./result.js";

/**
 * TokenEndpointVariant is how our server runs: composed in one bench child on the memory store or
 * on Redis (its Redis commands counted), or as the production process (`dist/src/main.js` with
 * M2M_WORKERS=2, NODE_ENV=production, Redis, every default as shipped).
 */
export type TokenEndpointVariant = "memory" | "redis" | "service";

/** serviceWorkers is M2M_WORKERS of the production-process variant: the peer runs two too. */
export const serviceWorkers = 2;

/** TokenEndpointOptions picks the signing algorithm and the variant of one token-endpoint run. */
export interface TokenEndpointOptions {
  alg: Alg;
  store: TokenEndpointVariant;
  /** profileDir, when set, gets V8 CPU profiles of the server process (main thread: the largest). */
  profileDir?: string;
}

// The registration body of the seed's walk-through, so tokens carry its scopes, audience and claims.
const benchClient = {
  name: "Bench Deployment Service",
  description: "Client the bench asks tokens for",
  custom_claims: [
    { key: "github_repository", value: "acmecorp/inventory-service" },
    { key: "environment", value: "production_us" },
  ],
  scopes: ["deploy:applications", "read:deployments"],
  audience: ["deployment-api.acmecorp.com"],
  expiry: 3600,
};

/** registerClient gets an admin token and registers the bench's client over REST, as a user would. */
async function registerClient(url: string, adminId: string, adminSecret: string): Promise<{ clientId: string; clientSecret: string }> {
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const tokenRes = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { ...form, authorization: basicAuth(adminId, adminSecret) },
    body: "grant_type=client_credentials",
  });
  const { access_token: adminToken } = (await tokenRes.json()) as { access_token?: string };
  if (tokenRes.status !== 200 || !adminToken) throw new Error(`admin token request answered ${tokenRes.status}`);
  const res = await fetch(`${url}/api/v1/organizations/org_bench/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(benchClient),
  });
  const created = (await res.json()) as { client?: { client_id?: string }; plain_secret?: string };
  if (res.status !== 201 || !created.client?.client_id || !created.plain_secret)
    throw new Error(`client registration answered ${res.status}: ${JSON.stringify(created)}`);
  return { clientId: created.client.client_id, clientSecret: created.plain_secret };
}

/** roundTrips divides the Redis commands counted during the measured run by the requests served. */
function roundTrips(
  client: [RedisCommandCount | undefined, RedisCommandCount | undefined],
  server: [CommandStats, CommandStats],
  requests: number,
): RedisRoundTrips {
  const clientDelta = client[0] && client[1] ? statsDelta(client[0], client[1]) : { total: Number.NaN, byName: {} };
  // Between the two INFOs Redis also counted the first INFO and the second's connection HELLO.
  const serverDelta = statsDelta(server[0], server[1], { info: 1, hello: 1 });
  return {
    perRequestClient: clientDelta.total / Math.max(requests, 1),
    perRequestServer: serverDelta.total / Math.max(requests, 1),
    clientByName: clientDelta.byName,
    serverByName: serverDelta.byName,
    requests,
  };
}

/** RunningServer is our server under test, whichever way it was started. */
interface RunningServer {
  url: string;
  pids: number[];
  /** redisCommands counts the commands the server's own client sent; undefined where it cannot. */
  redisCommands(): Promise<RedisCommandCount | undefined>;
  stop(): Promise<void>;
}

/** startServer starts our server as `options.store` says, with admin `bench-admin` / `adminSecret`. */
async function startServer(options: TokenEndpointOptions, redisUrl: string | undefined, keyPrefix: string, adminSecret: string): Promise<RunningServer> {
  const { alg, store } = options;
  if (store === "service") {
    const service = await startService(
      { REDIS_URL: redisUrl ?? "", M2M_KEY_PREFIX: keyPrefix, M2M_SIGNING_ALG: alg, M2M_ADMIN_CLIENT_ID: "bench-admin", M2M_ADMIN_CLIENT_SECRET: adminSecret },
      serviceWorkers,
    );
    return { url: service.url, pids: service.pids, redisCommands: async () => undefined, stop: () => service.stop() };
  }
  const child = await startChild<{ url: string; signingAlg: string }>("./servers/m2m.ts", {
    env: { BENCH_ALG: alg, BENCH_STORE: store, BENCH_REDIS_URL: redisUrl ?? "", BENCH_KEY_PREFIX: keyPrefix, BENCH_ADMIN_SECRET: adminSecret },
    // One folder per run: each thread (tsx's loader thread too) writes a profile of its own.
    nodeFlags: options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}/token-endpoint-${alg.toLowerCase()}-${store}`] : [],
  });
  return {
    url: child.ready.url,
    pids: [child.pid],
    redisCommands: async () => (await child.request<RedisCommandCount | null>("redisCommands")) ?? undefined,
    stop: () => child.stop(),
  };
}

/** runTokenEndpoint measures our `POST /oauth/token` (client_secret_basic) on a fresh store. */
export async function runTokenEndpoint(load: LoadGenerator, config: BenchConfig, options: TokenEndpointOptions): Promise<ScenarioResult> {
  const { alg, store } = options;
  const redisUrl = store === "memory" ? undefined : config.redisUrl;
  if (store !== "memory" && !redisUrl) throw new Error("no Redis to run on");
  const keyPrefix = `m2mbench:${randomBytes(4).toString("hex")}:`;
  const adminSecret = randomBytes(32).toString("base64url");
  const release = redisUrl ? claimPrefix(redisUrl, keyPrefix) : undefined;
  let server: RunningServer | undefined;
  try {
    server = await startServer(options, redisUrl, keyPrefix, adminSecret);
    const { url } = server;
    const { clientId, clientSecret } = await registerClient(url, "bench-admin", adminSecret);
    const request: TokenRequest = {
      url: `${url}/oauth/token`,
      headers: { authorization: basicAuth(clientId, clientSecret), "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    };
    const { claims } = await checkToken(request, alg);
    const running = server;
    let before: [RedisCommandCount | undefined, CommandStats] | undefined;
    const sample = await load.run(
      { ...request, method: "POST", connections: config.connections },
      {
        warmupS: config.warmupS,
        durationS: config.durationS,
        serverPids: running.pids,
        between: async () => {
          if (redisUrl) before = [await running.redisCommands(), await commandStats(redisUrl)];
        },
      },
    );
    const notes = [`claims: ${Object.keys(claims).join(",")}`];
    if (store === "service") notes.unshift(`dist/src/main.js, M2M_WORKERS=${serviceWorkers}, NODE_ENV=production, defaults as shipped`);
    const result: ScenarioResult = {
      name: `token-endpoint-${alg.toLowerCase()}`,
      kind: "token-endpoint",
      alg,
      variant: store,
      perSec: sample.okPerSec,
      cpuUsPerOp: sample.cpu?.serverUsPerRequest,
      load: sample,
      notes,
    };
    if (redisUrl && before) {
      const after: [RedisCommandCount | undefined, CommandStats] = [await running.redisCommands(), await commandStats(redisUrl)];
      result.redis = roundTrips([before[0], after[0]], [before[1], after[1]], sample.total);
    }
    return result;
  } finally {
    await server?.stop();
    await release?.();
  }
}
