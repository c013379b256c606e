import { createTokenKit, type VerifyAlg } from "./access-tokens.js";
import type { BenchConfig } from "./config.js";
import type { LoadGenerator } from "./load.js";
import { runBaselineHttp } from "./scenarios/baseline-http.js";
import { runOidcProvider } from "./scenarios/oidc-provider.js";
import { runRawSign } from "./scenarios/raw-sign.js";
import type { Alg, ScenarioResult } from "./scenarios/result.js";
import { runRpcService } from "./scenarios/rpc-service.js";
import { runTokenEndpoint, type TokenEndpointVariant } from "./scenarios/token-endpoint.js";
import { runVerify } from "./scenarios/verify.js";
import type { RpcVariant } from "./servers/rpc-variants.js";

// The two groups of scenarios `npm run bench` runs (BENCH_ONLY picks one or both). In each, what is
// compared runs side by side in time, so drift on a shared machine skews it least.

/** Step runs one scenario; a failure is recorded as skipped, with its reason, and the bench goes on. */
export type Step = (label: string, base: Omit<ScenarioResult, "perSec" | "skipped">, run: () => Promise<ScenarioResult | ScenarioResult[]>) => Promise<void>;

const tokenAlgs: readonly Alg[] = ["RS256", "ES256"];
const verifyAlgs: readonly VerifyAlg[] = ["RS256", "ES256", "EdDSA"];

// Symmetric in time: the mean of none's runs and of the interceptor's both sit mid-way.
const rpcOrder: readonly RpcVariant[] = [
  "none",
  "interceptor",
  "interceptor-revocation",
  "naive",
  "interceptor-nocache",
  "interceptor-revocation",
  "interceptor",
  "none",
];

/** runTokenGroup measures the token service against raw signing, node-oidc-provider and plain node:http. */
export async function runTokenGroup(step: Step, load: LoadGenerator, config: BenchConfig, profileDir: string | undefined): Promise<void> {
  await step("baseline-http (start)", { name: "baseline-http", kind: "baseline-http", variant: "start" }, () => runBaselineHttp(load, config, "start"));
  await step("raw-sign", { name: "raw-sign", kind: "raw-sign" }, () => runRawSign(config, tokenAlgs));
  for (const alg of tokenAlgs) {
    const token = (store: TokenEndpointVariant) => {
      const base = { name: `token-endpoint-${alg.toLowerCase()}`, kind: "token-endpoint" as const, alg, variant: store };
      return step(`${base.name} (${store})`, base, () => runTokenEndpoint(load, config, { alg, store, ...(profileDir ? { profileDir } : {}) }));
    };
    await token("memory");
    const oidc = { name: `oidc-provider-${alg.toLowerCase()}`, kind: "oidc-provider" as const, alg };
    await step(oidc.name, oidc, () => runOidcProvider(load, config, alg));
    if (config.redisUrl) await token("redis");
    // The figure the bars are about: the shipped process, two workers as the peer has, on Redis.
    if (config.redisUrl) await token("service");
  }
  await step("baseline-http (end)", { name: "baseline-http", kind: "baseline-http", variant: "end" }, () => runBaselineHttp(load, config, "end"));
}

/**
 * runInterceptorGroup measures a trivial RPC unguarded, behind the interceptor (warm token cache,
 * with the revocation check on, and with the cache off) and behind a naive jwtVerify-per-call interceptor, all with RS256; then
 * cold-path verifications per second in process, for each alg.
 */
export async function runInterceptorGroup(step: Step, load: LoadGenerator, config: BenchConfig, profileDir: string | undefined): Promise<void> {
  const kits = await Promise.all(verifyAlgs.map(createTokenKit));
  const [rs256] = kits;
  if (!rs256) throw new Error("no RS256 token kit");
  for (const [i, variant] of rpcOrder.entries()) {
    const base = { name: "rpc-service", kind: "rpc-service" as const, alg: rs256.alg, variant };
    const options = { variant, kit: rs256, label: `${i + 1}-${variant}`, ...(profileDir ? { profileDir } : {}) };
    await step(`rpc-service ${variant} (${i + 1}/${rpcOrder.length})`, base, () => runRpcService(load, config, options));
  }
  await step("verify (cold path, in process)", { name: "verify", kind: "verify" }, () => runVerify(config, kits));
}
