import { Cluster, Redis } from "ioredis";
import type { ClientChangeFeed, ClientChangeListener } from "./client-store.js";
import type { RedisClient } from "./redis-connection.js";

// Writes PUBLISH the changed client id from inside their Lua script, so the announcement is
// atomic with the write. A subscriber hears every announcement while its connection is up; when
// it drops, what was published meanwhile is gone, so the listener is told it is no longer live
// (and must forget what it cached) until a fresh subscription is confirmed.

const minRetryMs = 100;
const maxRetryMs = 2_000;

/** subscriberFor opens the dedicated connection a subscription needs, to the deployment `redis` serves. */
function subscriberFor(redis: RedisClient, channel: string): Redis | undefined {
  // Ours reconnects (see below), so ioredis must not reconnect or resubscribe on its own. Named
  // after its channel, so an operator can tell it apart in CLIENT LIST.
  const options = { retryStrategy: () => null, autoResubscribe: false, enableOfflineQueue: true, lazyConnect: false, connectionName: channel } as const;
  if (!(redis instanceof Cluster)) return redis.duplicate(options);
  // In a Cluster a PUBLISH reaches subscribers on every node: any one master will do. Pick one
  // at random among those the client knows now, so a lost node is not picked again and again.
  const masters = redis.nodes("master");
  const node = masters[Math.floor(Math.random() * masters.length)];
  if (node === undefined) return undefined;
  return new Redis({ ...redis.options.redisOptions, host: node.options.host, port: node.options.port, ...options });
}

/** RedisChangeFeed is the change feed of a Redis deployment, and the door for this process's own writes. */
export interface RedisChangeFeed extends ClientChangeFeed {
  /**
   * wrote tells this process's listeners at once that it changed `clientId`, so it reads its own
   * writes; the announcement from Redis still reaches every process, this one included.
   */
  wrote(clientId: string): void;
  /** close ends every subscription, so a closed store holds no connection open. */
  close(): Promise<void>;
}

/** createRedisChangeFeed returns the change feed over `channel` of the deployment `redis` serves. */
export function createRedisChangeFeed(redis: RedisClient, channel: string): RedisChangeFeed {
  const listeners = new Set<ClientChangeListener>();
  const stops = new Set<() => Promise<void>>();
  return {
    wrote(clientId) {
      for (const listener of listeners) listener.changed(clientId);
    },
    async close() {
      await Promise.all([...stops].map((stop) => stop()));
    },
    listen(listener: ClientChangeListener) {
      listeners.add(listener);
      let stopped = false;
      let live = false;
      let failures = 0;
      let current: Redis | undefined;
      let retry: NodeJS.Timeout | undefined;

      const setLive = (value: boolean): void => {
        if (live === value) return;
        live = value;
        listener.live(value);
      };

      const reconnect = (): void => {
        setLive(false);
        current?.removeAllListeners();
        current?.on("error", () => {});
        current?.disconnect();
        current = undefined;
        if (stopped || retry !== undefined) return;
        failures++;
        retry = setTimeout(
          () => {
            retry = undefined;
            connect();
          },
          Math.min(minRetryMs * 2 ** Math.min(failures - 1, 5), maxRetryMs),
        );
        retry.unref();
      };

      const connect = (): void => {
        if (stopped) return;
        const connection = subscriberFor(redis, channel);
        if (connection === undefined) return reconnect();
        current = connection;
        connection.on("error", () => {});
        connection.on("message", (from: string, clientId: string) => {
          if (from === channel) listener.changed(clientId);
        });
        // Any loss of the connection may have lost messages: start again from a fresh one.
        connection.once("close", reconnect);
        connection.once("end", reconnect);
        connection.subscribe(channel).then(
          () => {
            if (current !== connection || stopped) return;
            failures = 0;
            setLive(true);
          },
          () => {
            if (current === connection) reconnect();
          },
        );
      };

      connect();
      const stop = async (): Promise<void> => {
        stops.delete(stop);
        listeners.delete(listener);
        stopped = true;
        clearTimeout(retry);
        setLive(false);
        const connection = current;
        current = undefined;
        connection?.removeAllListeners();
        connection?.on("error", () => {});
        connection?.disconnect();
      };
      stops.add(stop);
      return stop;
    },
  };
}
