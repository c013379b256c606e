import type { Env } from "./config-values.js";

// Every environment variable the service and its CLI read, in one list: a misspelt M2M_ variable
// (M2M_SIGNIN_ALG) is otherwise silently ignored and its default used. test/config-variables.test.ts
// reads src/config*.ts and every process.env read in src/ and fails when a name is missing here.

/** knownVariables are the environment variables m2m-auth reads (config*.ts, and the CLI's M2M_URL). */
export const knownVariables: readonly string[] = [
  "HOST",
  "PORT",
  "LOG_LEVEL",
  "LOG_FORMAT",
  "REDIS_URL",
  "REDIS_CLUSTER_NODES",
  "REDIS_SENTINELS",
  "REDIS_SENTINEL_NAME",
  "REDIS_PASSWORD",
  "REDIS_SENTINEL_PASSWORD",
  "REDIS_TLS",
  "TLS_CERT_FILE",
  "TLS_KEY_FILE",
  "M2M_ADMIN_CLIENT_ID",
  "M2M_ADMIN_CLIENT_SECRET",
  "M2M_ALLOW_EVICTING_REDIS",
  "M2M_AUDIT_LOG",
  "M2M_AUTH_FAILURE_WINDOW_SECONDS",
  "M2M_AUTH_FAILURES_PER_ADDRESS",
  "M2M_AUTH_FAILURES_PER_CLIENT",
  "M2M_AUTH_FAILURES_PER_CLIENT_ADDRESS",
  "M2M_CLIENT_CACHE_MS",
  "M2M_CLIENT_JWKS_ORIGINS",
  "M2M_CORS_ORIGINS",
  "M2M_DRAIN_SECONDS",
  "M2M_FEDERATED_ISSUERS",
  "M2M_ISSUER",
  "M2M_JWKS_MAX_AGE_SECONDS",
  "M2M_KEY_ENCRYPTION_KEY",
  "M2M_KEY_PREFIX",
  "M2M_KEY_ROTATION_DAYS",
  "M2M_REFLECTION",
  "M2M_SECRET_HASH_KEY",
  "M2M_SIGNING_ALG",
  "M2M_STORE_TIMEOUT_MS",
  "M2M_TRUSTED_PROXIES",
  // The CLI's: where the service runs (`m2m-auth clients list` and the rest).
  "M2M_URL",
  "M2M_VALIDATE_TOKEN_PER_SECOND",
  "M2M_WORKERS",
];

// Only this prefix is ours to police: REDIS_, TLS_ and the rest are shared with other tools.
const checkedPrefix = "M2M_";
// Kubernetes gives every pod variables for each service in its namespace: a service named
// m2m-auth (or m2m-anything) yields M2M_AUTH_SERVICE_HOST, M2M_AUTH_PORT=tcp://10.0.0.7:8080,
// M2M_AUTH_PORT_8080_TCP_ADDR, and so on. (A bare M2M_PORT=9000 is still a mistake worth a word.)
const serviceLink = /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)$/;
const serviceLinkPort = /_PORT$/;
const serviceLinkValue = /^(tcp|udp|sctp):\/\//;

function isServiceLink(name: string, value: string | undefined): boolean {
  return serviceLink.test(name) || (serviceLinkPort.test(name) && serviceLinkValue.test(value ?? ""));
}

/** editDistance is the optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** nearestVariable is the known variable closest to `name`, or undefined when none is close enough to be a typo. */
export function nearestVariable(name: string): string | undefined {
  // M2M_LOG_LEVEL for LOG_LEVEL, M2M_PORT for PORT: the prefix added to a variable that has none.
  const unprefixed = name.slice(checkedPrefix.length);
  if (name.startsWith(checkedPrefix) && knownVariables.includes(unprefixed)) return unprefixed;
  let best: { name: string; distance: number } | undefined;
  for (const known of knownVariables) {
    const distance = editDistance(name, known);
    if (best === undefined || distance < best.distance) best = { name: known, distance };
  }
  // A typo is a few characters off; farther than that the suggestion would only mislead.
  return best !== undefined && best.distance <= Math.max(2, Math.floor(name.length / 5)) ? best.name : undefined;
}

/** unknownVariables returns one warning per set M2M_ variable that m2m-auth does not read, naming the nearest known one. */
export function unknownVariables(env: Env): readonly string[] {
  const warnings = Object.keys(env)
    .filter((name) => name.startsWith(checkedPrefix) && !knownVariables.includes(name) && !isServiceLink(name, env[name]))
    .sort()
    .map((name) => {
      const nearest = nearestVariable(name);
      return `${name} is not a known variable${nearest === undefined ? " (ignored)" : `; did you mean ${nearest}?`}`;
    });
  return Object.freeze(warnings);
}
