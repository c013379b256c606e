import { randomBytes } from "node:crypto";
import { isAbsolute, join } from "node:path";
import { startLoadGenerator } from "./load.js";
import { killAllChildren, startChild } from "./processes.js";
import { deletePrefix, findRedis } from "./redis.js";
import { basicAuth } from "./scenarios/check-token.js";

// The token path of this tree against another checkout's (a base: main before a change), in one
// run, so the machine's noise hits both alike: each server (bench/servers/m2m.ts of its own tree,
// on Redis) is loaded in turn, in an order that flips each round, and the ratio of the medians is
// printed. Not a test: a change that must not cost the success path anything shows ~1.0.
//
//   BENCH_BASE=/path/to/main-checkout node --import tsx bench/compare.ts
//
// Environment: BENCH_BASE (required: a checkout with its own bench/servers/m2m.ts and src/),
// BENCH_ALG (ES256), BENCH_ROUNDS (4), BENCH_DURATION (s measured per run, 8), BENCH_WARMUP (2),
// BENCH_CONNECTIONS (10), REDIS_URL (else 127.0.0.1:6379).

function setting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

async function start(entry: string, label: string, alg: string, redisUrl: string) {
  const adminSecret = randomBytes(32).toString("base64url");
  const keyPrefix = `m2mbench:compare-${label}-${randomBytes(4).toString("hex")}:`;
  const child = await startChild<{ url: string }>(entry, {
    env: { BENCH_ALG: alg, BENCH_STORE: "redis", BENCH_REDIS_URL: redisUrl, BENCH_KEY_PREFIX: keyPrefix, BENCH_ADMIN_SECRET: adminSecret },
  });
  const { url } = child.ready;
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const admin = await fetch(`${url}/oauth/token`, {
    method: "POST",
    headers: { ...form, authorization: basicAuth("bench-admin", adminSecret) },
    body: "grant_type=client_credentials",
  });
  const { access_token: token } = (await admin.json()) as { access_token?: string };
  // The management API's own audience and scope: granted by an environment admin whatever the API registry holds.
  const body = { name: "Bench client", scopes: ["m2m:clients:read"], audience: ["http://m2m-auth.bench"], expiry: 3600 };
  const res = await fetch(`${url}/api/v1/organizations/org_bench/clients`, {
    method: "POST",
    headers: { authorization: `Bearer ${token ?? ""}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const created = (await res.json()) as { client?: { client_id: string }; plain_secret?: string };
  if (!created.client || !created.plain_secret) throw new Error(`${label}: registration answered ${res.status}`);
  const headers = { ...form, authorization: basicAuth(created.client.client_id, created.plain_secret) };
  return { label, child, keyPrefix, request: { url: `${url}/oauth/token`, method: "POST" as const, headers, body: "grant_type=client_credentials" } };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] ?? Number.NaN) + (sorted[sorted.length >> 1] ?? Number.NaN)) / 2;
};

async function main(): Promise<void> {
  const base = process.env["BENCH_BASE"];
  if (!base || !isAbsolute(base)) throw new Error("BENCH_BASE must be the absolute path of the checkout to compare with");
  const redisUrl = await findRedis();
  if (!redisUrl) throw new Error("no Redis: set REDIS_URL");
  const alg = process.env["BENCH_ALG"] ?? "ES256";
  const [rounds, durationS, warmupS, connections] = [
    setting("BENCH_ROUNDS", 4),
    setting("BENCH_DURATION", 8),
    setting("BENCH_WARMUP", 2),
    setting("BENCH_CONNECTIONS", 10),
  ];
  process.on("exit", killAllChildren);
  const load = await startLoadGenerator();
  try {
    const servers = [await start(join(base, "bench/servers/m2m.ts"), "base", alg, redisUrl), await start("./servers/m2m.ts", "this", alg, redisUrl)];
    const perSec: Record<string, number[]> = { base: [], this: [] };
    const cpuUs: Record<string, number[]> = { base: [], this: [] };
    for (let round = 0; round < rounds; round++) {
      for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
        const sample = await load.run({ ...server.request, connections }, { warmupS, durationS, serverPids: [server.child.pid] });
        if (sample.ok !== sample.total) throw new Error(`${server.label}: answers other than 200: ${JSON.stringify(sample.statusCodes)}`);
        perSec[server.label]?.push(sample.okPerSec);
        cpuUs[server.label]?.push(sample.cpu?.serverUsPerRequest ?? Number.NaN);
        process.stderr.write(
          `${server.label} round ${round}: ${Math.round(sample.okPerSec)} tokens/s, ${Math.round(sample.cpu?.serverUsPerRequest ?? 0)} µs CPU per token\n`,
        );
      }
    }
    const [baseRate, thisRate] = [median(perSec["base"] ?? []), median(perSec["this"] ?? [])];
    const report = { alg, rounds, base: { tokensPerSec: baseRate, cpuUsPerToken: median(cpuUs["base"] ?? []) } };
    console.log(
      JSON.stringify({ ...report, this: { tokensPerSec: thisRate, cpuUsPerToken: median(cpuUs["this"] ?? []) }, ratio: thisRate / baseRate }, null, 2),
    );
    for (const server of servers) {
      await server.child.stop();
      await deletePrefix(redisUrl, server.keyPrefix);
    }
  } finally {
    await load.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
