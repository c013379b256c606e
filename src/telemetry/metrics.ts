import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { createCounterFamily, createHistogramFamily, type CounterSeries, type HistogramSeries } from "./series.js";

// What the service counts, in Prometheus' conventions (base units, `_total` counters, `_seconds`
// durations). Every label value comes from a bounded set chosen here or from the schema; the one
// exception, `client_id`, is off unless the operator asks for it (METRICS_CLIENT_LABELS).
// One Registry per Metrics, never prom-client's global one: several servers share a test process.

/** MetricsOptions configures createMetrics. */
export interface MetricsOptions {
  /** clientLabels adds `client_id` to the token counters (METRICS_CLIENT_LABELS): one series per client, unbounded. */
  clientLabels?: boolean | undefined;
  /** processMetrics adds prom-client's process and Node.js metrics (`process_*`, `nodejs_*`); default false. */
  processMetrics?: boolean | undefined;
}

/** SigningKeySource is what the key gauges read at scrape time: the current key and every key's status. */
export interface SigningKeySource {
  current(): { readonly alg: string; readonly createTime: number };
  list(): readonly { readonly status: string }[];
}

/** Metrics records what the service does and renders it as Prometheus text. */
export interface Metrics {
  /** registry holds this instance's metrics (for prom-client's cluster aggregation). */
  readonly registry: Registry;
  /** tokenIssued counts an access token issued by `grant` (any string: bounded here) and signing `alg`. */
  tokenIssued(grant: string | undefined, alg: string, clientId: string | undefined): void;
  /** tokenRefused counts a refused token request by `grant` and `reason`, its OAuth error code (RFC 6749 §5.2). */
  tokenRefused(grant: string | undefined, reason: string, clientId: string | undefined): void;
  /** httpRequest observes an HTTP answer on `route`, a route pattern (never a raw path). */
  httpRequest(route: string, method: string | undefined, status: number, seconds: number): void;
  /** rpc observes an RPC by its schema names and Connect code name ("ok" on success). */
  rpc(service: string, method: string, code: string, seconds: number): void;
  /** jwksRequest counts a JWKS document served. */
  jwksRequest(): void;
  /** storeOperation observes one store call, `operation` being e.g. "clients.get". */
  storeOperation(operation: string, seconds: number, failed: boolean): void;
  /** watchKeys makes the signing-key gauges read `keys` at every scrape. */
  watchKeys(keys: SigningKeySource, now?: () => number): void;
  /** scrape renders every metric as Prometheus text. */
  scrape(): Promise<string>;
  /** contentType is the scrape's media type. */
  readonly contentType: string;
}

// The grants this issuer knows; anything else a client sends is "other" (RFC 6749 §4.4).
const knownGrants = new Set(["client_credentials"]);
// RFC 6749 §5.2 and §4.1.2.1, RFC 8707 §2: every error the token endpoint and IssueToken answer.
const knownReasons = new Set([
  "invalid_request",
  "invalid_client",
  "unsupported_grant_type",
  "invalid_scope",
  "invalid_target",
  "temporarily_unavailable",
  "server_error",
]);
const knownMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);

/** grantLabel bounds a grant_type to a label value: the known grant, "none" when absent, else "other". */
export function grantLabel(grant: string | undefined): string {
  if (grant === undefined || grant === "") return "none";
  return knownGrants.has(grant) ? grant : "other";
}

// A token request takes about a millisecond; a store call a few hundred microseconds.
const requestBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const storeBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** pairs returns a series per value pair, resolved once: no key string is built per call. */
function pairs<T>(resolve: (a: string, b: string) => T): (a: string, b: string) => T {
  const outer = new Map<string, Map<string, T>>();
  return (a, b) => {
    let inner = outer.get(a);
    if (inner === undefined) outer.set(a, (inner = new Map<string, T>()));
    let found = inner.get(b);
    if (found === undefined) inner.set(b, (found = resolve(a, b)));
    return found;
  };
}

/** createMetrics returns the service's metrics in a registry of their own. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const clientLabels = options.clientLabels === true;
  const client = clientLabels ? ["client_id"] : [];
  // The per-request metrics are series.ts's: a few additions per request, not prom-client's per-call label checks.
  const issued = createCounterFamily({
    name: "m2m_auth_tokens_issued_total",
    help: "Access tokens issued, by grant and signing algorithm.",
    labelNames: ["grant", "alg", ...client],
    registry,
  });
  const refused = createCounterFamily({
    name: "m2m_auth_tokens_refused_total",
    help: "Token requests refused, by grant and OAuth error code (RFC 6749 §5.2).",
    labelNames: ["grant", "reason", ...client],
    registry,
  });
  const http = createHistogramFamily({
    name: "m2m_auth_http_request_duration_seconds",
    help: "HTTP requests (not RPCs) by route pattern, method and status class.",
    labelNames: ["route", "method", "status_class"],
    buckets: requestBuckets,
    registry,
  });
  const rpc = createHistogramFamily({
    name: "m2m_auth_rpc_duration_seconds",
    help: "RPCs (Connect, gRPC, gRPC-Web) by service, method and Connect code.",
    labelNames: ["service", "method", "code"],
    buckets: requestBuckets,
    registry,
  });
  const store = createHistogramFamily({
    name: "m2m_auth_store_operation_duration_seconds",
    help: "Store calls by operation, failed ones included.",
    labelNames: ["operation"],
    buckets: storeBuckets,
    registry,
  });
  const storeErrors = createCounterFamily({
    name: "m2m_auth_store_errors_total",
    help: "Store calls that failed, by operation.",
    labelNames: ["operation"],
    registry,
  });
  const jwks = createCounterFamily({ name: "m2m_auth_jwks_requests_total", help: "JWKS documents served.", labelNames: [], registry }).series();
  let keys: SigningKeySource | undefined;
  let now: () => number = Date.now;
  new Gauge({
    name: "m2m_auth_signing_key_age_seconds",
    help: "Age of the key signing new tokens, by algorithm.",
    labelNames: ["alg"],
    registers: [registry],
    // Read at scrape time from the key ring: nothing to keep up to date on rotation.
    collect() {
      this.reset();
      if (keys === undefined) return;
      const current = keys.current();
      this.set({ alg: current.alg }, Math.max(0, (now() - current.createTime) / 1000));
    },
  });
  new Gauge({
    name: "m2m_auth_signing_keys",
    help: "Keys of the signing key ring, by status (current, next, previous).",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      this.reset();
      for (const key of keys?.list() ?? []) this.inc({ status: key.status });
    },
  });
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });

  const issuedSeries = pairs((grant, alg) => issued.series(grant, alg));
  const refusedSeries = pairs((grant, reason) => refused.series(grant, reason));
  const rpcSeries = new Map<string, HistogramSeries>();
  const storeSeries = new Map<string, { duration: HistogramSeries; errors: CounterSeries }>();
  const httpSeries = new Map<string, HistogramSeries>();
  return {
    registry,
    tokenIssued(grant, alg, clientId) {
      if (clientLabels) issued.series(grantLabel(grant), alg, clientId ?? "").value++;
      else issuedSeries(grantLabel(grant), alg).value++;
    },
    tokenRefused(grant, reason, clientId) {
      const bounded = knownReasons.has(reason) ? reason : "other";
      if (clientLabels) refused.series(grantLabel(grant), bounded, clientId ?? "").value++;
      else refusedSeries(grantLabel(grant), bounded).value++;
    },
    httpRequest(route, method, status, seconds) {
      const verb = method !== undefined && knownMethods.has(method) ? method : "other";
      const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
      // route, verb and class are each from a small set: the key space is bounded.
      const key = `${route} ${verb} ${statusClass}`;
      let series = httpSeries.get(key);
      if (series === undefined) httpSeries.set(key, (series = http.series(route, verb, statusClass)));
      series.observe(seconds);
    },
    rpc(service, method, code, seconds) {
      const key = `${service}/${method} ${code}`;
      let series = rpcSeries.get(key);
      if (series === undefined) rpcSeries.set(key, (series = rpc.series(service, method, code)));
      series.observe(seconds);
    },
    storeOperation(operation, seconds, failed) {
      let series = storeSeries.get(operation);
      if (series === undefined) storeSeries.set(operation, (series = { duration: store.series(operation), errors: storeErrors.series(operation) }));
      series.duration.observe(seconds);
      if (failed) series.errors.value++;
    },
    watchKeys(source, clock) {
      keys = source;
      if (clock !== undefined) now = clock;
    },
    jwksRequest: () => void jwks.value++,
    scrape: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
