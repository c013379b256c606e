import type { Store } from "../../src/store/client-store.js";

/** FaultyStore is a real store whose chosen calls throw `fault` while it is set. */
export interface FaultyStore {
  store: Store;
  /** fault, while set, is thrown by each failing call instead of calling the store. */
  fault: Error | undefined;
}

/**
 * faultyStore wraps `store` so that the calls named in `failing` (`clients.list`, `clients.get`,
 * `ping`, …) throw `fault` while it is set: an unexpected error, or an outage, on demand.
 */
export function faultyStore(store: Store, failing: readonly string[]): FaultyStore {
  const state: FaultyStore = { store, fault: undefined };
  const check = (name: string) => {
    if (state.fault !== undefined && failing.includes(name)) throw state.fault;
  };
  const clients = new Proxy(store.clients, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      return async (...args: unknown[]) => (check(`clients.${String(name)}`), method.apply(target, args));
    },
  });
  state.store = new Proxy(store, {
    get(target, name, receiver) {
      if (name === "clients") return clients;
      if (name === "ping") return async () => (check("ping"), target.ping());
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
  return state;
}
