import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { RedisConnectionOptions, RedisNode } from "../../src/store/redis-connection.js";
import { freePort, infoField, redisCli, removeDir, startRedisProcess, tempDir, waitUntil, type RedisProcess } from "./redis-process.js";

// A private Redis Cluster of three masters (no replicas) on loopback ports, for one test file.

const readyTimeoutMs = 10_000;
const createTimeoutMs = 10_000;

/** TestRedisCluster is a running Cluster and the connection options that reach it. */
export interface TestRedisCluster {
  readonly nodes: readonly RedisNode[];
  readonly connection: RedisConnectionOptions;
  /** stopNodes shuts every node down (no save), as if the whole Cluster were lost. */
  stopNodes(): Promise<void>;
  /** startNodes starts the stopped nodes again from their cluster config files and waits for cluster_state:ok. */
  startNodes(): Promise<void>;
  /** stop shuts everything down and removes the temp dir; safe to call more than once. */
  stop(): Promise<void>;
}

interface NodeSpec {
  port: number;
  busPort: number;
  dir: string;
}

const nodeArgs = ({ port, busPort }: NodeSpec): string[] => [
  "--port",
  String(port),
  "--bind",
  "127.0.0.1",
  "--cluster-enabled",
  "yes",
  // The bus port is chosen too, so it is free (the default, port + 10000, may not be).
  "--cluster-port",
  String(busPort),
  "--cluster-config-file",
  `nodes-${port}.conf`,
  // Long enough that a loaded CI machine does not get a node marked failed by mistake.
  "--cluster-node-timeout",
  "3000",
  "--save",
  "",
  "--appendonly",
  "no",
];

function createCluster(ports: number[]): Promise<void> {
  const args = ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"];
  return new Promise((resolve, reject) => {
    execFile("redis-cli", args, { timeout: createTimeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}${stderr}`)) : resolve(),
    );
  });
}

async function waitForClusterOk(ports: number[]): Promise<void> {
  await waitUntil(
    async () => {
      const infos = await Promise.all(ports.map((port) => redisCli(port, "cluster", "info")));
      return infos.every((info) => infoField(info, "cluster_state") === "ok");
    },
    readyTimeoutMs,
    `redis cluster on ports ${ports.join(", ")} did not reach cluster_state:ok within ${readyTimeoutMs / 1000} s`,
  );
}

/** startRedisCluster starts a 3-master Cluster from the system's redis-server; call stop() in afterAll. */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const root = tempDir("cluster");
  const specs: NodeSpec[] = [];
  let processes: RedisProcess[] = [];
  const stopNodes = async () => {
    await Promise.all(processes.map((p) => p.stop()));
  };
  // All settled before going on, so a failure still leaves every started node in `processes` to stop.
  const startNodes = async () => {
    const started = await Promise.allSettled(specs.map((spec) => startRedisProcess(spec.port, spec.dir, nodeArgs(spec))));
    processes = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
    for (const result of started) if (result.status === "rejected") throw result.reason;
  };
  try {
    for (let i = 0; i < 3; i++) {
      const dir = join(root, `node-${i}`);
      mkdirSync(dir);
      specs.push({ port: await freePort(), busPort: await freePort(), dir });
    }
    await startNodes();
    const ports = specs.map((spec) => spec.port);
    await createCluster(ports);
    await waitForClusterOk(ports);
  } catch (err) {
    await stopNodes();
    removeDir(root);
    throw err;
  }
  const nodes = specs.map(({ port }) => ({ host: "127.0.0.1", port }));
  return {
    nodes,
    connection: { kind: "cluster", nodes },
    stopNodes,
    async startNodes() {
      await startNodes();
      await waitForClusterOk(specs.map((spec) => spec.port));
    },
    async stop() {
      await stopNodes();
      removeDir(root);
    },
  };
}
