import type { VerifyAlg } from "../access-tokens.js";
import type { LoadSample } from "../load.js";

/** Alg is a signing algorithm the token-service scenarios compare. */
export type Alg = "RS256" | "ES256";

/** TOKEN_KINDS are the kinds of the token-service group; the others belong to the interceptor group. */
export const TOKEN_KINDS: readonly ScenarioResult["kind"][] = ["baseline-http", "raw-sign", "token-endpoint", "oidc-provider"];

/** RedisRoundTrips is how many Redis commands one token request cost, counted two ways. */
export interface RedisRoundTrips {
  /** perRequestClient counts the commands the server's own ioredis client sent (exact). */
  perRequestClient: number;
  /** perRequestServer counts `INFO commandstats` calls: every client of that Redis, not only ours. */
  perRequestServer: number;
  clientByName: Record<string, number>;
  serverByName: Record<string, number>;
  requests: number;
}

/** ScenarioResult is one measured (or skipped) scenario of the report. */
export interface ScenarioResult {
  /** name is the scenario's name in the report, e.g. `token-endpoint-rs256`. */
  name: string;
  kind: "baseline-http" | "raw-sign" | "token-endpoint" | "oidc-provider" | "rpc-service" | "verify";
  alg?: VerifyAlg;
  /**
   * variant tells runs of one kind apart: the store, the raw signing mode, start or end; for
   * rpc-service what guards the RPC (RpcVariant), for verify "verifier" or "jwtVerify".
   */
  variant?: string;
  /** perSec is served 200 responses (or signatures, or verifications) per second; 0 when skipped. */
  perSec: number;
  load?: LoadSample;
  /** cpuUsPerOp is CPU time per response (or signature, or verification) in µs, every thread of the process(es). */
  cpuUsPerOp?: number;
  redis?: RedisRoundTrips;
  /** skipped says why the scenario did not run or failed; its numbers are then meaningless. */
  skipped?: string;
  notes?: string[];
}

/** skippedResult records a scenario that could not be measured, with the reason. */
export function skippedResult(base: Omit<ScenarioResult, "perSec" | "skipped">, err: unknown): ScenarioResult {
  const reason = err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
  return { ...base, perSec: 0, skipped: reason };
}
