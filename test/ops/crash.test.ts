import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { checkStore } from "../../src/ops/store-check.js";
import { issuerStateNames } from "../../src/ops/state-check.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisConnection } from "../../src/store/redis-connection.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken } from "../support/server.js";
import { newLedger, runWriter, seededRandom } from "./crash-workload.js";

// The real process, killed with SIGKILL at random moments under mixed writes (creates, renames,
// deletes, secret adds and deletes, key rotations; REST and RPC), restarted each time. At the end
// the store must check clean, and every write that was answered 2xx must be there as answered.

const ADMIN_SECRET = "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU";
const root = fileURLToPath(new URL("../..", import.meta.url));
const kills = 5;
const writers = 4;
// Each round writes for a random 300-1,500 ms before the kill.
const minRunMs = 300;
const maxRunMs = 1_500;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function start(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      const url = /"url":"(http:[^"]+)"/.exec(output)?.[1];
      if (url) resolve({ child, url, exited });
    });
    void exited.then((code) => reject(new Error(`exited ${String(code)} before listening: ${output}`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("kill -9 under mixed writes", () => {
  it("loses no acknowledged write, and the store checks clean", async () => {
    const seed = randomInt(1, 1_000_000);
    const began = Date.now();
    const random = seededRandom(seed);
    const prefix = uniquePrefix();
    // ES256: a rotation makes its new key in milliseconds, so rotations are many and kills land in them too.
    const env = {
      REDIS_URL: testRedisUrl(),
      M2M_KEY_PREFIX: prefix,
      M2M_ADMIN_CLIENT_ID: "admin",
      M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
      M2M_SIGNING_ALG: "ES256",
    };
    const organizations = ["crash_a", "crash_b", "crash_c"];
    const ledger = newLedger();
    for (let round = 0; round < kills; round++) {
      const service = await start(env);
      const token = await getToken(service.url, "admin", ADMIN_SECRET);
      let stopped = false;
      const running = Array.from({ length: writers }, (_, id) =>
        runWriter({ id, url: service.url, token, organizations, ledger, random, rotates: id === 0, stopped: () => stopped }),
      );
      await sleep(minRunMs + random() * (maxRunMs - minRunMs));
      service.child.kill("SIGKILL");
      await service.exited;
      stopped = true;
      await Promise.all(running);
    }

    const redis = createRedisConnection(testRedisUrl());
    const store = createRedisStore({ redis, keyPrefix: prefix });
    try {
      const layout = createKeyLayout(prefix);
      // The admin comes from the environment, so the store holds none of its own.
      const report = await checkStore(redis, layout, { expectedState: issuerStateNames.filter((name) => name !== "admin-client") });
      const context = `seed ${seed}: ${JSON.stringify(report.findings)}`;
      expect(report.findings, context).toEqual([]);
      expect(ledger.unexpected, context).toEqual([]);

      const lost: string[] = [];
      for (const client of ledger.clients) {
        const record = await store.clients.get(client.clientId);
        if (client.state === "deleted" && record !== undefined) lost.push(`delete of ${client.clientId}`);
        if (client.state !== "live") continue;
        if (record === undefined) {
          lost.push(`create of ${client.clientId}`);
          continue;
        }
        if (!client.names.has(record.client!.name)) lost.push(`rename of ${client.clientId}: ${record.client!.name} not in ${[...client.names].join(", ")}`);
        const secrets = new Set(record.secretHashes.map((hash) => hash.secretId));
        for (const [secretId, state] of client.secrets)
          if (secrets.has(secretId) !== (state === "present")) lost.push(`secret ${secretId} of ${client.clientId} ${state}`);
      }
      const ring = fromBinary(SigningKeyRingSchema, (await redis.getBuffer(layout.state("signing-keys")))!);
      const kids = new Set(ring.keys.map((key) => key.kid));
      // Rotations are forced (the guard refuses back-to-back ones), and a forced rotation past the
      // ring's bound drops the oldest previous key: the last acknowledged rotation must be there.
      const lastKid = ledger.rotatedKids.at(-1);
      if (lastKid !== undefined && !kids.has(lastKid)) lost.push(`rotation to ${lastKid}`);
      expect(lost, `seed ${seed}`).toEqual([]);
      expect(ledger.acknowledged).toBeGreaterThan(kills * writers);
      console.log(
        `crash test (seed ${seed}): ${kills} kills, ${ledger.acknowledged} acknowledged writes (lost: ${lost.length}), ` +
          `${ledger.unanswered} unanswered, ${ledger.rotatedKids.length} rotations (${ledger.refusedRotations} refused), ` +
          `store:check: ${report.counts.records} records, ${report.counts.indexEntries} index entries, ${report.counts.keys} keys, ${report.findings.length} findings; ` +
          `${((Date.now() - began) / 1000).toFixed(1)} s`,
      );
    } finally {
      await store.close();
      redis.disconnect();
    }
  }, 90_000);
});
