// The example DeploymentService behind the m2m-auth interceptor, on one port that speaks HTTP/1.1
// and cleartext HTTP/2: gRPC, gRPC-Web and the Connect protocol (curl, browsers) all reach it.
// `npm run example:server` runs it with settings from the environment.
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
// In your project: import { createAuthInterceptor } from "m2m-auth/interceptor";
import { createAuthInterceptor } from "../../src/interceptor/index.js";
// In your project: import { createListener } from "m2m-auth/listener";
import { createListener } from "../../src/listener.js";
import { createDeploymentService } from "./deployments.js";
import { DeploymentService } from "./gen/example/v1/deployment_pb.js";

/** DeploymentServiceOptions configures startDeploymentService. */
export interface DeploymentServiceOptions {
  /** port to listen on; 0 picks a free one. */
  port: number;
  /** host to listen on; default 127.0.0.1. */
  host?: string;
  /** issuer is the token service's `iss`, e.g. http://localhost:8080. */
  issuer: string;
  /** audience is this service's name in the tokens' `aud`, e.g. deployment-api.acmecorp.com. */
  audience: string;
  /** jwksUri is where the token service publishes its public keys. */
  jwksUri: string;
}

/** RunningDeploymentService is a listening example service. */
export interface RunningDeploymentService {
  /** url is the base URL clients call, e.g. http://127.0.0.1:3000. */
  readonly url: string;
  /** close stops accepting, lets in-flight calls finish, and closes every client connection. */
  close(): Promise<void>;
}

/** startDeploymentService listens on options.port and serves DeploymentService, tokens required. */
export async function startDeploymentService(options: DeploymentServiceOptions): Promise<RunningDeploymentService> {
  const { issuer, audience, jwksUri } = options;
  const routes = (router: ConnectRouter) => router.service(DeploymentService, createDeploymentService());

  const auth = createAuthInterceptor({ issuer, audience, jwksUri });
  const handler = connectNodeAdapter({ routes, interceptors: [auth] });

  // HTTP/1.1 and h2c on one port: gRPC needs HTTP/2, curl and browsers mostly speak HTTP/1.1.
  const listener = createListener({ handler, host: options.host ?? "127.0.0.1", port: options.port });
  const { url } = await listener.listen();
  return { url, close: () => listener.close() };
}

// Settings from the environment, with defaults for a token service started with `npm start`.
function fromEnvironment(env: NodeJS.ProcessEnv): DeploymentServiceOptions {
  const issuer = env["M2M_ISSUER"] || "http://localhost:8080";
  const port = Number(env["PORT"] || 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("PORT: must be a port number");
  return {
    port,
    issuer,
    audience: env["M2M_AUDIENCE"] || "deployment-api.acmecorp.com",
    jwksUri: env["M2M_JWKS_URI"] || `${issuer}/.well-known/jwks.json`,
  };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const options = fromEnvironment(process.env);
  const service = await startDeploymentService(options);
  console.log(`DeploymentService on ${service.url} (issuer ${options.issuer}, audience ${options.audience})`);
  const stop = () => void service.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
