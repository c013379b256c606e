import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

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

/**
 * cached returns a label child per value pair, resolved once: `labels()` builds a key string and
 * looks it up on every call, which the token path would pay per request.
 */
function cached<T>(resolve: (a: string, b: string) => T): (a: string, b: string) => T {
  const outer = new Map<string, Map<string, T>>();
  return (a, b) => {
    let inner = outer.get(a);
    if (inner === undefined) outer.set(a, (inner = new Map<string, T>()));
    let child = inner.get(b);
    if (child === undefined) inner.set(b, (child = resolve(a, b)));
    return child;
  };
}

/** createMetrics returns the service's metrics in a registry of their own. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const clientLabels = options.clientLabels === true;
  const client = clientLabels ? ["client_id"] : [];
  const issued = new Counter({
    name: "m2m_auth_tokens_issued_total",
    help: "Access tokens issued, by grant and signing algorithm.",
    labelNames: ["grant", "alg", ...client],
    registers: [registry],
  });
  const refused = new Counter({
    name: "m2m_auth_tokens_refused_total",
    help: "Token requests refused, by grant and OAuth error code (RFC 6749 §5.2).",
    labelNames: ["grant", "reason", ...client],
    registers: [registry],
  });
  const http = new Histogram({
    name: "m2m_auth_http_request_duration_seconds",
    help: "HTTP requests (not RPCs) by route pattern, method and status class.",
    labelNames: ["route", "method", "status_class"],
    buckets: requestBuckets,
    registers: [registry],
  });
  const rpc = new Histogram({
    name: "m2m_auth_rpc_duration_seconds",
    help: "RPCs (Connect, gRPC, gRPC-Web) by service, method and Connect code.",
    labelNames: ["service", "method", "code"],
    buckets: requestBuckets,
    registers: [registry],
  });
  const store = new Histogram({
    name: "m2m_auth_store_operation_duration_seconds",
    help: "Store calls by operation, failed ones included.",
    labelNames: ["operation"],
    buckets: storeBuckets,
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: "m2m_auth_store_errors_total",
    help: "Store calls that failed, by operation.",
    labelNames: ["operation"],
    registers: [registry],
  });
  const jwks = new Counter({ name: "m2m_auth_jwks_requests_total", help: "JWKS documents served.", registers: [registry] });
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

  const issuedChild = cached((grant, alg) => issued.labels(grant, alg));
  const refusedChild = cached((grant, reason) => refused.labels(grant, reason));
  const rpcChildren = new Map<string, ReturnType<typeof rpc.labels>>();
  const storeChildren = new Map<string, { duration: ReturnType<typeof store.labels>; errors: ReturnType<typeof storeErrors.labels> }>();
  const httpChildren = new Map<string, ReturnType<typeof http.labels>>();
  return {
    registry,
    tokenIssued(grant, alg, clientId) {
      if (clientLabels) issued.labels(grantLabel(grant), alg, clientId ?? "").inc();
      else issuedChild(grantLabel(grant), alg).inc();
    },
    tokenRefused(grant, reason, clientId) {
      const bounded = knownReasons.has(reason) ? reason : "other";
      if (clientLabels) refused.labels(grantLabel(grant), bounded, clientId ?? "").inc();
      else refusedChild(grantLabel(grant), bounded).inc();
    },
    httpRequest(route, method, status, seconds) {
      const verb = method !== undefined && knownMethods.has(method) ? method : "other";
      const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
      // route, verb and class are each from a small set: the key space is bounded.
      const key = `${route} ${verb} ${statusClass}`;
      let child = httpChildren.get(key);
      if (child === undefined) httpChildren.set(key, (child = http.labels(route, verb, statusClass)));
      child.observe(seconds);
    },
    rpc(service, method, code, seconds) {
      const key = `${service}/${method} ${code}`;
      let child = rpcChildren.get(key);
      if (child === undefined) rpcChildren.set(key, (child = rpc.labels(service, method, code)));
      child.observe(seconds);
    },
    storeOperation(operation, seconds, failed) {
      let child = storeChildren.get(operation);
      if (child === undefined) storeChildren.set(operation, (child = { duration: store.labels(operation), errors: storeErrors.labels(operation) }));
      child.duration.observe(seconds);
      if (failed) child.errors.inc();
    },
    watchKeys(source, clock) {
      keys = source;
      if (clock !== undefined) now = clock;
    },
    jwksRequest: () => jwks.inc(),
    scrape: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
