import { importJWK, jwtVerify, type JWTVerifyOptions } from "jose";
import { createTokenVerifier } from "../../src/interceptor/index.js";
import { BENCH_AUDIENCE, BENCH_ISSUER, type TokenKit } from "../access-tokens.js";
import { announceReady, serveParent } from "../ipc.js";

// Cold-path verifications per second, in a process of its own (one per mode): the library's
// verifier with its token cache off (every call checks the signature and the claims), against
// jose's jwtVerify with a key imported once, the same token and the same number of calls in flight.

/** VerifyRequest is one timed verification loop. */
export interface VerifyRequest {
  kit: TokenKit;
  mode: "verifier" | "jwtVerify";
  durationS: number;
  /** concurrency is how many verifications are kept in flight. */
  concurrency: number;
}

/** VerifyResult is what one loop counted. */
export interface VerifyResult {
  verifications: number;
  durationS: number;
  /** cpuMs is the process's CPU time in the loop, every thread (libuv's pool included). */
  cpuMs: number;
}

type Verify = (token: string) => Promise<unknown>;

// Set up once per alg and mode, so a repeated loop measures verification only.
const prepared = new Map<string, Promise<Verify>>();

/** prepare builds the verify function of `mode`, checks it accepts the kit's token, and warms it up unmeasured. */
async function prepare(kit: TokenKit, mode: VerifyRequest["mode"]): Promise<Verify> {
  let verify: Verify;
  if (mode === "verifier") {
    const verifier = createTokenVerifier({ issuer: BENCH_ISSUER, audience: BENCH_AUDIENCE, keys: kit.jwks, tokenCache: false });
    verify = (token) => verifier.verify(token);
  } else {
    const [jwk] = kit.jwks.keys;
    if (!jwk) throw new Error("the kit's JWKS has no key");
    const key = await importJWK(jwk, kit.alg);
    const options: JWTVerifyOptions = {
      issuer: BENCH_ISSUER,
      audience: BENCH_AUDIENCE,
      algorithms: [kit.alg],
      typ: "at+jwt",
      requiredClaims: ["exp", "iat", "sub", "client_id", "jti"],
    };
    verify = (token) => jwtVerify(token, key, options);
  }
  await verify(kit.token);
  await loop(verify, kit.token, 0.3, 8);
  return verify;
}

/** loop keeps `concurrency` verifications in flight until the deadline and counts those done. */
async function loop(verify: Verify, token: string, durationS: number, concurrency: number): Promise<number> {
  const deadline = performance.now() + durationS * 1000;
  let done = 0;
  const lane = async () => {
    while (performance.now() < deadline) {
      await verify(token);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return done;
}

/** measure runs one loop and reports its count, wall time and CPU time. */
async function measure(request: VerifyRequest): Promise<VerifyResult> {
  const id = `${request.kit.alg}:${request.mode}`;
  let verify = prepared.get(id);
  if (verify === undefined) {
    verify = prepare(request.kit, request.mode);
    prepared.set(id, verify);
  }
  const fn = await verify;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const verifications = await loop(fn, request.kit.token, request.durationS, request.concurrency);
  const durationS = (performance.now() - start) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  return { verifications, durationS, cpuMs: (user + system) / 1000 };
}

serveParent({ measure: (payload) => measure(payload as VerifyRequest) });
announceReady();
