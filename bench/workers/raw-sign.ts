import { availableParallelism } from "node:os";
import { generateKeyPairSync, sign, type KeyObject, type SignKeyObjectInput } from "node:crypto";
import { Worker } from "node:worker_threads";
import { announceReady, serveParent } from "../ipc.js";

// What raw node:crypto signing allows on this machine right now, with every core busy, two ways:
// async crypto.sign saturating libuv's thread pool (how the server signs), and one worker thread
// per core each signing synchronously in a loop.

/** RawSignRequest names the algorithm, the way to use the cores, and how long to sign. */
export interface RawSignRequest {
  alg: "RS256" | "ES256";
  mode: "threadpool" | "workers";
  durationS: number;
}

/** RawSignResult is the count of signatures made in the duration. */
export interface RawSignResult {
  signatures: number;
  durationS: number;
  perSec: number;
  threads: number;
  /** cpuUsPerSignature is the process's CPU time (every thread) per signature, in microseconds. */
  cpuUsPerSignature: number;
}

// A signing input about as long as a token's: a JWS header and claims, base64url.
const input = Buffer.from(`${"h".repeat(100)}.${"c".repeat(600)}`);

/** keyFor makes an RSA 2048 or P-256 key, exported as PKCS #8 PEM for worker threads too. */
function keyFor(alg: RawSignRequest["alg"]): { pem: string; key: KeyObject } {
  const { privateKey } = alg === "RS256" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { pem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), key: privateKey };
}

/** signInput returns the key argument crypto.sign wants for `alg`. */
function signKey(alg: RawSignRequest["alg"], key: KeyObject): KeyObject | SignKeyObjectInput {
  return alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key;
}

/** threadpool keeps twice the pool size of async signs in flight until the deadline. */
function threadpool(alg: RawSignRequest["alg"], key: KeyObject, durationS: number): Promise<number> {
  const poolSize = Number(process.env["UV_THREADPOOL_SIZE"] ?? 4);
  const target = signKey(alg, key);
  const deadline = performance.now() + durationS * 1000;
  let done = 0;
  let running = 0;
  return new Promise((resolve, reject) => {
    const next = (): void => {
      running++;
      sign("sha256", input, target, (err) => {
        running--;
        if (err) return reject(err);
        if (performance.now() >= deadline) {
          if (running === 0) resolve(done);
          return;
        }
        done++;
        next();
      });
    };
    for (let i = 0; i < poolSize * 2; i++) next();
  });
}

const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const { createPrivateKey, sign } = require("node:crypto");
const raw = createPrivateKey(workerData.pem);
const key = workerData.alg === "ES256" ? { key: raw, dsaEncoding: "ieee-p1363" } : raw;
const input = Buffer.from(workerData.input);
const deadline = performance.now() + workerData.durationS * 1000;
let done = 0;
while (performance.now() < deadline) { sign("sha256", input, key); done++; }
parentPort.postMessage(done);
`;

/** workers runs one synchronous signing loop per core and adds up their counts. */
async function workers(alg: RawSignRequest["alg"], pem: string, durationS: number, threads: number): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: threads }, () => {
      const worker = new Worker(workerSource, { eval: true, workerData: { alg, pem, durationS, input: input.toString() } });
      return new Promise<number>((resolve, reject) => {
        worker.once("message", (count: number) => resolve(count));
        worker.once("error", reject);
      });
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** measure signs for the requested time and reports the rate. */
async function measure(request: RawSignRequest): Promise<RawSignResult> {
  const { pem, key } = keyFor(request.alg);
  const threads = request.mode === "workers" ? availableParallelism() : Number(process.env["UV_THREADPOOL_SIZE"] ?? 4);
  const cpu = process.cpuUsage();
  const signatures =
    request.mode === "workers" ? await workers(request.alg, pem, request.durationS, threads) : await threadpool(request.alg, key, request.durationS);
  const { user, system } = process.cpuUsage(cpu);
  return {
    signatures,
    durationS: request.durationS,
    perSec: signatures / request.durationS,
    threads,
    cpuUsPerSignature: (user + system) / Math.max(signatures, 1),
  };
}

serveParent({ measure: (payload) => measure(payload as RawSignRequest) });
announceReady();
