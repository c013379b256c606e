import { X509Certificate } from "node:crypto";
import { copyFile } from "node:fs/promises";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { createM2MServer, type M2MServerOptions } from "../src/server.js";
import { createMemoryStore } from "../src/store/memory-store.js";
import { makeCertificate, type TestCertificate } from "./support/tls-certificate.js";

// options.tls as createM2MServer takes it: files checked before anything starts, read again by reloadTls.

let first: TestCertificate;
let second: TestCertificate;
beforeAll(async () => {
  [first, second] = await Promise.all([makeCertificate(), makeCertificate()]);
});

function options(tls: M2MServerOptions["tls"]): M2MServerOptions {
  return {
    host: "127.0.0.1",
    port: 0,
    issuer: "https://m2m-auth.test",
    signingAlg: "ES256",
    store: createMemoryStore(),
    logger: pino({ level: "silent" }),
    tls,
  };
}

describe("createM2MServer with options.tls", () => {
  it("refuses files that do not pair with a TypeError naming the option", async () => {
    const refused = options({ certFile: first.certFile, keyFile: second.keyFile });
    await expect(createM2MServer(refused)).rejects.toThrow(/^createM2MServer: options\.tls\.keyFile: .* is not the private key of the certificate/);
    await refused.store.close();
  });

  it("listens on an https URL and reloadTls reads the files again, keeping the pair in use when they are bad", async () => {
    const own = await makeCertificate();
    const opts = options({ certFile: own.certFile, keyFile: own.keyFile });
    const server = await createM2MServer(opts);
    try {
      expect((await server.listen()).url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      await copyFile(second.certFile, own.certFile);
      expect(() => server.reloadTls()).toThrow(/not the private key/);
      await copyFile(second.keyFile, own.keyFile);
      expect(server.reloadTls()).toMatchObject({ fingerprint256: new X509Certificate(second.cert).fingerprint256 });
    } finally {
      await server.close();
      await opts.store.close();
    }
  });

  it("has nothing to reload without TLS", async () => {
    const opts = options(undefined);
    const server = await createM2MServer(opts);
    try {
      expect(() => server.reloadTls()).toThrow(/no TLS/);
    } finally {
      await server.close();
      await opts.store.close();
    }
  });
});
