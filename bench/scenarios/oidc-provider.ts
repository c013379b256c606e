import { randomBytes } from "node:crypto";
import type { BenchConfig } from "../config.js";
import type { LoadGenerator } from "../load.js";
import { startChild } from "../processes.js";
import { basicAuth, checkToken, type TokenRequest } from "./check-token.js";
import type { Alg, ScenarioResult } from "./result.js";

const workers = 2;

/** runOidcProvider measures node-oidc-provider's client credentials grant with JWT access tokens. */
export async function runOidcProvider(load: LoadGenerator, config: BenchConfig, alg: Alg): Promise<ScenarioResult> {
  const clientId = "bench-client";
  const clientSecret = randomBytes(32).toString("base64url");
  const server = await startChild<{ url: string; workerPids: number[] }>("./servers/oidc-provider.ts", {
    env: {
      BENCH_ALG: alg,
      BENCH_CLIENT_ID: clientId,
      BENCH_CLIENT_SECRET: clientSecret,
      BENCH_RESOURCE: "https://deployment-api.acmecorp.com",
      BENCH_WORKERS: String(workers),
      NODE_ENV: "production",
    },
    collectStderr: true,
  });
  try {
    const request: TokenRequest = {
      url: `${server.ready.url}/token`,
      headers: { authorization: basicAuth(clientId, clientSecret), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: "read:deployments deploy:applications" }).toString(),
    };
    const { claims } = await checkToken(request, alg);
    const sample = await load.run(
      { ...request, method: "POST", connections: config.connections },
      { warmupS: config.warmupS, durationS: config.durationS, serverPids: [server.pid, ...server.ready.workerPids] },
    );
    const notes = [
      `node:cluster x${workers}`,
      `claims: ${Object.keys(claims).join(",")}`,
      ...server.stderrLines().map((line) => `stderr: ${line.slice(0, 100)}`),
    ];
    return {
      name: `oidc-provider-${alg.toLowerCase()}`,
      kind: "oidc-provider",
      alg,
      perSec: sample.okPerSec,
      cpuUsPerOp: sample.cpu?.serverUsPerRequest,
      load: sample,
      notes,
    };
  } finally {
    await server.stop();
  }
}
