import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

// A self-signed certificate for localhost and 127.0.0.1, made at test time by the openssl CLI
// (.ci/run installs it when missing): nothing secret is committed, and each run has its own.

const run = promisify(execFile);

/** TestCertificate is a PEM certificate and key, both as files and as text. */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** makeCertificate writes a fresh P-256 certificate and key into a new temporary directory (its CN names it). */
export async function makeCertificate(name = "localhost"): Promise<TestCertificate> {
  const dir = await mkdtemp(join(tmpdir(), "m2m-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  return { certFile, keyFile, cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
}
