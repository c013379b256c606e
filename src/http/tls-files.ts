import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TlsCredentials } from "./listener.js";

// The listener's certificate and key, read from the files an operator names (TLS_CERT_FILE,
// TLS_KEY_FILE): once at start, where config.ts turns a problem into a ConfigError, and again on
// every SIGHUP, where a problem keeps the old pair. One reader, so both refuse the same files.

/** TlsFiles names the PEM certificate (chain) file and its private key file. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** TlsFileCredentials are the files' contents, checked, and what the log may say about them. */
export interface TlsFileCredentials extends TlsCredentials {
  /** fingerprint256 is the leaf certificate's SHA-256 fingerprint (public), to tell reloads apart in the log. */
  fingerprint256: string;
  /** validTo is the leaf certificate's notAfter, as X509Certificate writes it. */
  validTo: string;
}

/** TlsFileError says which of the two files is unusable, and why; it never quotes the key. */
export class TlsFileError extends Error {
  constructor(
    readonly file: "cert" | "key",
    message: string,
  ) {
    super(message);
    this.name = "TlsFileError";
  }
}

function readPem(file: "cert" | "key", path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new TlsFileError(file, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * readTlsFiles reads both files and checks that the first holds a PEM certificate, the second an
 * unencrypted PEM private key, and that the key is the certificate's; it throws TlsFileError.
 */
export function readTlsFiles(files: TlsFiles): TlsFileCredentials {
  const cert = readPem("cert", files.certFile);
  const key = readPem("key", files.keyFile);
  let leaf: X509Certificate;
  try {
    if (!cert.includes("-----BEGIN CERTIFICATE-----")) throw new Error("no PEM certificate");
    // The first certificate of a chain is the server's own (RFC 8446 §4.4.2).
    leaf = new X509Certificate(cert);
  } catch {
    throw new TlsFileError("cert", `${files.certFile} holds no PEM certificate`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(key)) throw new Error("no PEM private key");
    privateKey = createPrivateKey(key);
  } catch {
    // Never echo the file's content: it is the secret half.
    throw new TlsFileError("key", `${files.keyFile} holds no unencrypted PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new TlsFileError("key", `${files.keyFile} is not the private key of the certificate in ${files.certFile}`);
  return { cert, key, fingerprint256: leaf.fingerprint256, validTo: leaf.validTo };
}
