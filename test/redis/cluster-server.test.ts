import { afterAll, beforeAll } from "vitest";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { describeServerFlow } from "./server-flow.js";

// The service with its store on a 3-master Redis Cluster.

let cluster: TestRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describeServerFlow("redis cluster", () => cluster.connection);
