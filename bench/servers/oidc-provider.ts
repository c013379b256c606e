import cluster from "node:cluster";
import { generateKeyPairSync } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { announceFailure, announceReady, serveParent } from "../ipc.js";

// The comparator: node-oidc-provider issuing JWT access tokens by the client credentials grant,
// under node:cluster with one worker per BENCH_WORKERS (2 by default). Configured through env:
// BENCH_ALG (RS256 | ES256), BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_RESOURCE, BENCH_WORKERS.

const resourceScope = "read:deployments deploy:applications";

/** env reads a required environment variable. */
function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** freePort asks the OS for a free loopback port, so every worker can share a known one. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** worker runs one provider on the shared port, signing with the primary's key. */
function worker(): void {
  const alg = env("BENCH_ALG");
  const resource = env("BENCH_RESOURCE");
  const port = Number(env("BENCH_PORT"));
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: env("BENCH_CLIENT_ID"),
        client_secret: env("BENCH_CLIENT_SECRET"),
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
        // The client default is RS256, which an EC-only keystore cannot sign.
        id_token_signed_response_alg: alg,
        scope: resourceScope,
      },
    ],
    scopes: resourceScope.split(" "),
    jwks: { keys: [JSON.parse(env("BENCH_JWK")) as object] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: resourceScope,
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg } },
        }),
      },
    },
    // Only read for opaque tokens; set so the provider does not print a notice per worker.
    ttl: { ClientCredentials: 3600 },
  } as ConstructorParameters<typeof Provider>[1]);
  const handle = provider.callback();
  // Koa's handler settles every request itself (a failure goes to ctx.onerror, which answers it), so its promise never rejects.
  const server = createHttpServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000;
  server.listen(port, "127.0.0.1");
}

/** primary makes the signing key, forks the workers and tells the parent once all listen. */
async function primary(): Promise<void> {
  const alg = env("BENCH_ALG");
  const { privateKey } = alg === "RS256" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = { ...privateKey.export({ format: "jwk" }), alg, use: "sig", kid: `bench-${alg.toLowerCase()}` };
  const port = await freePort();
  const count = Number(process.env["BENCH_WORKERS"] ?? 2);
  let listening = 0;
  let stopping = false;
  cluster.on("exit", (_worker, code, signal) => {
    if (!stopping) announceFailure(new Error(`an oidc-provider worker exited (${signal ?? code})`));
  });
  cluster.on("listening", () => {
    if (++listening !== count) return;
    serveParent({}, async () => {
      stopping = true;
      await Promise.all(
        Object.values(cluster.workers ?? {}).map(
          (w) => new Promise<void>((resolve) => (w === undefined || w.isDead() ? resolve() : (w.once("exit", () => resolve()), w.kill()))),
        ),
      );
    });
    const workerPids = Object.values(cluster.workers ?? {}).flatMap((w) => (w?.process.pid === undefined ? [] : [w.process.pid]));
    announceReady({ url: `http://127.0.0.1:${port}`, workerPids });
  });
  for (let i = 0; i < count; i++) cluster.fork({ BENCH_PORT: String(port), BENCH_JWK: JSON.stringify(jwk) });
}

if (cluster.isPrimary) primary().catch(announceFailure);
else {
  // A worker leaves with its primary; it never talks to the bench parent itself.
  process.on("disconnect", () => process.exit(0));
  worker();
}
