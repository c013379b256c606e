// A caller of the example DeploymentService: the client interceptor gets an access token with the
// client credentials, caches it and sends it on every call. `npm run example:client` runs it.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
// In your project: import { createClientCredentialsInterceptor } from "m2m-auth/interceptor";
import { createClientCredentialsInterceptor } from "../../src/interceptor/index.js";
import { DeploymentService, type Deployment } from "./gen/example/v1/deployment_pb.js";

/** ClientOptions configures runClient. */
export interface ClientOptions {
  /** baseUrl is the DeploymentService's URL, e.g. http://localhost:3000. */
  baseUrl: string;
  /** tokenUrl is the token service's token endpoint, e.g. http://localhost:8080/oauth/token. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

/** ClientResult is what runClient did: the deployment it created and the list that followed. */
export interface ClientResult {
  created: Deployment;
  deployments: Deployment[];
}

/** runClient records a deployment, then lists the organization's deployments. */
export async function runClient(options: ClientOptions): Promise<ClientResult> {
  const { baseUrl, tokenUrl, clientId, clientSecret } = options;
  const transport = createGrpcTransport({
    baseUrl,
    interceptors: [createClientCredentialsInterceptor({ tokenUrl, clientId, clientSecret })],
  });
  const client = createClient(DeploymentService, transport);

  const { deployment } = await client.createDeployment({
    application: "inventory-service",
    environment: "production_us",
    version: "v1.4.2",
  });
  const { deployments } = await client.listDeployments({});
  if (deployment === undefined) throw new Error("CreateDeployment returned no deployment");
  return { created: deployment, deployments };
}

function summary(d: Deployment): string {
  return `${d.id} ${d.application} ${d.version} → ${d.environment} by ${d.createdBy}`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const clientId = process.env["CLIENT_ID"];
  const clientSecret = process.env["CLIENT_SECRET"];
  if (!clientId || !clientSecret) {
    console.error("Set CLIENT_ID and CLIENT_SECRET to an API client's credentials (README: Walk-through, step 2).");
    process.exit(2);
  }
  const issuer = process.env["M2M_ISSUER"] || "http://localhost:8080";
  const result = await runClient({
    baseUrl: process.env["DEPLOYMENT_SERVICE_URL"] || "http://localhost:3000",
    tokenUrl: `${issuer}/oauth/token`,
    clientId,
    clientSecret,
  }).catch((err: unknown) => {
    console.error(`example client failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
  console.log(`created ${summary(result.created)}`);
  console.log(`${result.deployments.length} deployment(s):`);
  for (const d of result.deployments) console.log(`  ${summary(d)}`);
}
