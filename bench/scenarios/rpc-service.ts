import { decodeJwt } from "jose";
import { BENCH_AUDIENCE, BENCH_ISSUER, type TokenKit } from "../access-tokens.js";
import type { BenchConfig } from "../config.js";
import type { LoadGenerator } from "../load.js";
import { startChild } from "../processes.js";
import { RPC_PATH, type RpcVariant } from "../servers/rpc-variants.js";
import type { ScenarioResult } from "./result.js";

/** RpcServiceOptions picks what guards the RPC, the key and tokens, and where profiles go. */
export interface RpcServiceOptions {
  variant: RpcVariant;
  kit: TokenKit;
  /** profileDir, when set, gets V8 CPU profiles of the server process (main thread: the largest). */
  profileDir?: string;
  /** label tells repeated runs of one variant apart, e.g. in the profile folder's name. */
  label?: string;
}

/** headersFor is what every call sends: the Connect protocol with JSON, and the bearer token if any. */
function headersFor(token: string | undefined): Record<string, string> {
  return {
    "content-type": "application/json",
    "connect-protocol-version": "1",
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
}

/** callStatus makes one call and returns its HTTP status and body. */
async function callStatus(url: string, token: string | undefined): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: "POST", headers: headersFor(token), body: "{}" });
  return { status: res.status, text: await res.text() };
}

/**
 * checkService throws unless the token's call answers the fixed list and, when a guard is on, a
 * call without a token answers 401 and one lacking read:deployments 403: the load then measures
 * real answers, with the scope check running.
 */
async function checkService(url: string, variant: RpcVariant, kit: TokenKit): Promise<void> {
  const ok = await callStatus(url, kit.token);
  const count = ok.status === 200 ? (JSON.parse(ok.text) as { deployments?: unknown[] }).deployments?.length : undefined;
  if (count !== 3) throw new Error(`the call answered ${ok.status}: ${ok.text.slice(0, 300)}`);
  if (variant === "none") return;
  const anonymous = await callStatus(url, undefined);
  if (anonymous.status !== 401) throw new Error(`a call without a token answered ${anonymous.status}, not 401`);
  const unscoped = await callStatus(url, kit.unscopedToken);
  // With the revocation check the unscoped token is the listed one: refused before its scopes.
  if (variant === "interceptor-revocation") {
    if (unscoped.status !== 401 || !unscoped.text.includes("token revoked"))
      throw new Error(`a listed token answered ${unscoped.status}, not 401 token revoked`);
    return;
  }
  if (unscoped.status !== 403) throw new Error(`a call lacking read:deployments answered ${unscoped.status}, not 403`);
}

/** runRpcService measures the trivial RPC guarded as `variant` says, every call with the same token. */
export async function runRpcService(load: LoadGenerator, config: BenchConfig, options: RpcServiceOptions): Promise<ScenarioResult> {
  const { variant, kit } = options;
  const profile = options.profileDir ? `${options.profileDir}/rpc-service-${options.label ?? variant}` : undefined;
  const server = await startChild<{ url: string }>("./servers/rpc-service.ts", {
    args: [variant],
    env: {
      BENCH_JWKS: JSON.stringify(kit.jwks),
      BENCH_ALG: kit.alg,
      BENCH_ISSUER,
      BENCH_AUDIENCE,
      BENCH_REVOKED_JTI: String(decodeJwt(kit.unscopedToken).jti),
    },
    nodeFlags: profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [],
  });
  try {
    const url = `${server.ready.url}${RPC_PATH}`;
    await checkService(url, variant, kit);
    const sample = await load.run(
      { url, method: "POST", headers: headersFor(kit.token), body: "{}", connections: config.connections },
      { warmupS: config.warmupS, durationS: config.durationS, serverPids: [server.pid] },
    );
    const notes =
      variant === "none"
        ? []
        : variant === "interceptor-revocation"
          ? ["checked: 401 without a token, 401 token revoked for a listed jti"]
          : ["checked: 401 without a token, 403 without read:deployments"];
    return {
      name: "rpc-service",
      kind: "rpc-service",
      alg: kit.alg,
      variant,
      perSec: sample.okPerSec,
      cpuUsPerOp: sample.cpu?.serverUsPerRequest,
      load: sample,
      notes,
    };
  } finally {
    await server.stop();
  }
}
