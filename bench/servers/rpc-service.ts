import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { JSONWebKeySet } from "jose";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DeploymentSchema, DeploymentService } from "../../examples/deployment-service/gen/example/v1/deployment_pb.js";
import { createAuthInterceptor } from "../../src/interceptor/index.js";
import { announceFailure, announceReady, serveParent } from "../ipc.js";
import { createNaiveAuthInterceptor } from "./naive-auth.js";
import { REVOKED_LISTED, RPC_VARIANTS, type RpcVariant } from "./rpc-variants.js";

// A trivial unary RPC, the example's ListDeployments (required scope: read:deployments) answering a
// fixed list, served by connectNodeAdapter on node:http (HTTP/1.1, so autocannon can call it over
// the Connect protocol with JSON). The first argument picks what guards it: none, interceptor
// (createAuthInterceptor, default options: the verified-token cache on), interceptor-nocache
// (tokenCache: false), interceptor-revocation (the cache on and `revocation: {}`'s defaults, the
// list of REVOKED_LISTED jtis, BENCH_REVOKED_JTI among them, served by this process on another
// port, as the issuer would, and refetched every 5 s) or naive (jose's jwtVerify per call). Env:
// BENCH_JWKS, BENCH_ALG, BENCH_ISSUER, BENCH_AUDIENCE, BENCH_REVOKED_JTI.

/** env reads a required environment variable. */
function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** interceptorsFor builds the interceptor chain of `variant`. */
async function interceptorsFor(variant: RpcVariant): Promise<Interceptor[]> {
  const jwks = JSON.parse(env("BENCH_JWKS")) as JSONWebKeySet;
  const issuer = env("BENCH_ISSUER");
  const audience = env("BENCH_AUDIENCE");
  switch (variant) {
    case "none":
      return [];
    case "interceptor":
      return [createAuthInterceptor({ issuer, audience, keys: jwks })];
    case "interceptor-nocache":
      return [createAuthInterceptor({ issuer, audience, keys: jwks, tokenCache: false })];
    case "interceptor-revocation": {
      const uri = await serveRevocationList([env("BENCH_REVOKED_JTI"), ...Array.from({ length: REVOKED_LISTED - 1 }, () => randomUUID())]);
      return [createAuthInterceptor({ issuer, audience, keys: jwks, revocation: { uri } })];
    }
    case "naive": {
      const [jwk] = jwks.keys;
      if (!jwk) throw new Error("BENCH_JWKS has no key");
      return [await createNaiveAuthInterceptor({ jwk, alg: env("BENCH_ALG"), issuer, audience, scope: "read:deployments" })];
    }
  }
}

/** serveRevocationList serves `{"revoked": [...]}` as the issuer's GET /oauth/revoked does, and returns its URL. */
async function serveRevocationList(jtis: string[]): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const body = JSON.stringify({ revoked: jtis.map((jti) => ({ jti, exp })) });
  const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=5" }).end(body));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/revoked`;
}

/** main serves the RPC with the variant's interceptors until the parent stops it. */
async function main(): Promise<void> {
  const variant = process.argv[2] as RpcVariant;
  if (!RPC_VARIANTS.includes(variant)) throw new Error(`unknown variant ${JSON.stringify(variant)}; one of ${RPC_VARIANTS.join(", ")}`);
  const deployments = ["inventory-service", "billing-service", "search-service"].map((application, i) =>
    create(DeploymentSchema, { id: `dep_${i + 1}`, application, environment: "production_us", version: `v1.4.${i}`, createdBy: "bench-client" }),
  );
  const routes = (router: ConnectRouter) =>
    router.service(DeploymentService, {
      listDeployments: () => ({ deployments }),
      createDeployment: () => ({}),
    });
  const server = createServer(connectNodeAdapter({ routes, interceptors: await interceptorsFor(variant) }));
  server.keepAliveTimeout = 65_000;
  server.on("error", announceFailure);
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    serveParent({}, () => new Promise<void>((resolve) => server.close(() => resolve())));
    announceReady({ url: `http://127.0.0.1:${port}` });
  });
}

main().catch(announceFailure);
