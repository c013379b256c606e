import { SpanKind } from "@opentelemetry/api";
import type { Store } from "../store/client-store.js";
import type { Metrics } from "./metrics.js";
import { endSpan, startChildSpan } from "./tracing.js";

// The store measured at composition, not in its backends: one decorator times every call of every
// part (memory, Redis, Cluster, Sentinel alike) and opens its child span. Operation names come
// from the interfaces ("clients.get", "state.commit"), a bounded set.

const parts = ["clients", "state", "revocations", "failures", "resourceServers"] as const;

function methodNames(target: object): string[] {
  const names = new Set<string>();
  for (let at: object | null = target; at !== null && at !== Object.prototype; at = Object.getPrototypeOf(at) as object | null) {
    for (const name of Object.getOwnPropertyNames(at)) {
      if (name !== "constructor" && typeof (target as Record<string, unknown>)[name] === "function") names.add(name);
    }
  }
  return [...names];
}

function measured<T extends object>(target: T, prefix: string, metrics: Metrics): T {
  const wrapped: Record<string, unknown> = Object.create(target) as Record<string, unknown>;
  for (const name of methodNames(target)) {
    const method = (target as Record<string, (...args: unknown[]) => unknown>)[name] as (...args: unknown[]) => unknown;
    const operation = prefix === "" ? name : `${prefix}.${name}`;
    const attributes = { "db.operation.name": operation };
    wrapped[name] = async function (...args: unknown[]): Promise<unknown> {
      const span = startChildSpan(`store ${operation}`, attributes, SpanKind.CLIENT);
      const start = performance.now();
      try {
        const value = await method.apply(target, args);
        metrics.storeOperation(operation, (performance.now() - start) / 1000, false);
        endSpan(span);
        return value;
      } catch (err) {
        metrics.storeOperation(operation, (performance.now() - start) / 1000, true);
        endSpan(span, err);
        throw err;
      }
    };
  }
  return wrapped as T;
}

/**
 * instrumentStore returns `store` with every call of its parts (and `ping`, `empty`) timed into
 * `m2m_auth_store_operation_duration_seconds`, its failures counted, and a child span when the
 * request is traced. Closing, health listeners and the change feed pass through untouched.
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const instrumented = Object.create(store) as Record<string, unknown>;
  for (const part of parts) instrumented[part] = measured(store[part], part, metrics);
  const own = measured({ ping: () => store.ping(), empty: () => store.empty() }, "", metrics);
  instrumented["ping"] = own.ping;
  instrumented["empty"] = own.empty;
  instrumented["close"] = () => store.close();
  if (store.onHealth !== undefined) instrumented["onHealth"] = store.onHealth.bind(store);
  return instrumented as unknown as Store;
}
