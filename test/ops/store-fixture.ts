import { pino } from "pino";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { loadIssuerState } from "../../src/issuer-state.js";
import type { Store } from "../../src/store/client-store.js";
import { createKeyLayout, type KeyLayout } from "../../src/store/key-layout.js";
import { available } from "../../src/store/redis-calls.js";
import { createRedisConnection, pingDeployment, type RedisClient, type RedisConnectionOptions } from "../../src/store/redis-connection.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { makeRecord } from "../store/client-record-fixtures.js";

/** StoreFixture is a store as the service leaves it (issuer state, clients, secret uses) and a raw connection to damage it with. */
export interface StoreFixture {
  store: Store;
  layout: KeyLayout;
  /** redis is a connection of the test's own: raw commands, and the one checkStore runs on. */
  redis: RedisClient;
  /** records are the clients created, each with one secret (`sec_1`) used once. */
  records: ClientRecord[];
  close(): Promise<void>;
}

/** fillStore writes the issuer state (bootstrap admin included) and `perOrganization` clients in each organization under `prefix`. */
export async function fillStore(
  connection: RedisConnectionOptions,
  prefix: string,
  organizationIds: readonly string[],
  perOrganization = 3,
): Promise<StoreFixture> {
  const store = createRedisStore({ connection, keyPrefix: prefix });
  const state = await loadIssuerState({ store, issuer: "http://m2m-auth.test", signingAlg: "ES256", now: Date.now, logger: pino({ level: "silent" }) });
  await state.close();
  const records: ClientRecord[] = [];
  for (const organizationId of organizationIds) {
    for (let i = 0; i < perOrganization; i++) {
      const record = makeRecord(organizationId, { createMs: Date.now() + i });
      if (!(await store.clients.create(record))) throw new Error("fixture client id taken");
      records.push(record);
    }
  }
  await store.clients.recordSecretUse(records.map((record) => ({ clientId: record.client!.clientId, secretId: "sec_1", timeMs: Date.now() })));
  const redis = createRedisConnection(connection);
  // A Cluster client takes commands only once connected (no offline queue).
  await available(redis, () => pingDeployment(redis));
  return {
    store,
    layout: createKeyLayout(prefix),
    redis,
    records,
    async close() {
      await store.close();
      redis.disconnect();
    },
  };
}
