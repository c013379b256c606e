import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RedisConnectionOptions, RedisNode } from "../../src/store/redis-connection.js";
import { freePort, infoField, redisCli, removeDir, startRedisProcess, tempDir, waitUntil, type RedisProcess } from "./redis-process.js";

// A private primary, one replica and three Sentinels (quorum 2) on loopback ports, for one test file.

const readyTimeoutMs = 10_000;
const name = "m2mtest";

/** TestRedisSentinel is a running Sentinel deployment and the connection options that reach it. */
export interface TestRedisSentinel {
  readonly name: string;
  readonly sentinels: readonly RedisNode[];
  readonly connection: RedisConnectionOptions;
  /** primaryPort asks a Sentinel for the port of the current primary. */
  primaryPort(): Promise<number>;
  /** stopPrimary shuts the current primary down without saving, as a crash would; returns its port. */
  stopPrimary(): Promise<number>;
  /** stop shuts everything down and removes the temp dir; safe to call more than once. */
  stop(): Promise<void>;
}

const dataArgs = (port: number, replicaOf?: number): string[] => [
  "--port",
  String(port),
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
  // A full sync otherwise waits 5 s for more replicas to share the transfer.
  "--repl-diskless-sync-delay",
  "0",
  ...(replicaOf === undefined ? [] : ["--replicaof", "127.0.0.1", String(replicaOf)]),
];

// Sentinel rewrites its config file, so each gets a writable one in its own directory.
function writeSentinelConf(dir: string, port: number, primaryPort: number): string {
  const file = join(dir, "sentinel.conf");
  writeFileSync(
    file,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      "",
    ].join("\n"),
  );
  return file;
}

/** startRedisSentinel starts the deployment from the system's redis-server; call stop() in afterAll. */
export async function startRedisSentinel(): Promise<TestRedisSentinel> {
  const root = tempDir("sentinel");
  const processes: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
  };
  const dir = (label: string) => {
    const path = join(root, label);
    mkdirSync(path);
    return path;
  };
  const sentinelPorts: number[] = [];
  try {
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    processes.push(await startRedisProcess(primaryPort, dir("primary"), dataArgs(primaryPort)));
    processes.push(await startRedisProcess(replicaPort, dir("replica"), dataArgs(replicaPort, primaryPort)));
    // A Sentinel learns the replicas from the primary's INFO when it starts; connected first,
    // the replica is known at once (else only at the next INFO, 10 s later).
    await waitUntil(
      async () => infoField(await redisCli(replicaPort, "info", "replication"), "master_link_status") === "up",
      readyTimeoutMs,
      `redis replica on port ${replicaPort} did not sync with the primary on port ${primaryPort} within ${readyTimeoutMs / 1000} s`,
    );
    for (let i = 0; i < 3; i++) sentinelPorts.push(await freePort());
    const started = await Promise.allSettled(
      sentinelPorts.map((port, i) => {
        const sentinelDir = dir(`sentinel-${i}`);
        return startRedisProcess(port, sentinelDir, [writeSentinelConf(sentinelDir, port, primaryPort), "--sentinel"]);
      }),
    );
    for (const result of started) if (result.status === "fulfilled") processes.push(result.value);
    for (const result of started) if (result.status === "rejected") throw result.reason;
    // A failover needs every Sentinel to know the replica and the two other Sentinels (they
    // find each other through hello messages, every 2 s).
    await waitUntil(
      async () => {
        const views = await Promise.all(
          sentinelPorts.map(async (port) => [
            (await redisCli(port, "sentinel", "replicas", name)).split("\n").filter((line) => line === "name").length,
            (await redisCli(port, "sentinel", "sentinels", name)).split("\n").filter((line) => line === "name").length,
          ]),
        );
        return views.every(([replicas, sentinels]) => replicas === 1 && sentinels === 2);
      },
      readyTimeoutMs,
      `redis sentinels on ports ${sentinelPorts.join(", ")} did not all see the replica and each other within ${readyTimeoutMs / 1000} s`,
    );
  } catch (err) {
    await stop();
    removeDir(root);
    throw err;
  }
  const sentinels = sentinelPorts.map((port) => ({ host: "127.0.0.1", port }));
  const primaryPort = async () => Number((await redisCli(sentinelPorts[0] ?? 0, "sentinel", "get-master-addr-by-name", name)).split("\n")[1]);
  return {
    name,
    sentinels,
    connection: { kind: "sentinel", sentinels, name },
    primaryPort,
    async stopPrimary() {
      const port = await primaryPort();
      const primary = processes.find((p) => p.port === port);
      if (!primary) throw new Error(`no process of this deployment listens on the primary's port ${port}`);
      await primary.stop();
      return port;
    },
    async stop() {
      await stop();
      removeDir(root);
    },
  };
}
