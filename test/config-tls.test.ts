import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { makeCertificate, type TestCertificate } from "./support/tls-certificate.js";

// TLS_CERT_FILE and TLS_KEY_FILE: both or neither, read and checked once at start.

let first: TestCertificate;
let second: TestCertificate;

/** refusal returns the ConfigError loadConfig throws for `env`. */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("loadConfig accepted the environment");
}

beforeAll(async () => {
  [first, second] = await Promise.all([makeCertificate(), makeCertificate()]);
});

describe("loadConfig TLS", () => {
  it("serves cleartext without the files, and names the files and an https default issuer with them", () => {
    expect(loadConfig({}).tls).toBeUndefined();
    const config = loadConfig({ PORT: "8443", TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: ` ${first.keyFile} ` });
    expect(config.tls).toEqual({ certFile: first.certFile, keyFile: first.keyFile });
    expect(Object.isFrozen(config.tls)).toBe(true);
    expect(config.issuer).toBe("https://localhost:8443");
    // An issuer set by the operator (say, a proxy's name) is kept as written.
    expect(loadConfig({ TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: first.keyFile, M2M_ISSUER: "https://auth.example.com" }).issuer).toBe(
      "https://auth.example.com",
    );
  });

  it("wants both files or neither, naming the missing one", () => {
    expect(refusal({ TLS_CERT_FILE: first.certFile })).toMatchObject({
      variable: "TLS_KEY_FILE",
      message: expect.stringMatching(/required when TLS_CERT_FILE/) as unknown,
    });
    expect(refusal({ TLS_KEY_FILE: first.keyFile })).toMatchObject({
      variable: "TLS_CERT_FILE",
      message: expect.stringMatching(/required when TLS_KEY_FILE/) as unknown,
    });
  });

  it("refuses unreadable files, files that are not PEM, and a key that is not the certificate's, naming the variable", async () => {
    const dir = dirname(first.certFile);
    const garbage = join(dir, "garbage.pem");
    await writeFile(garbage, "not pem at all\n");
    const encrypted = join(dir, "encrypted.pem");
    await writeFile(encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n");
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [{ TLS_CERT_FILE: join(dir, "missing.pem"), TLS_KEY_FILE: first.keyFile }, "TLS_CERT_FILE", /cannot read .*ENOENT/],
      [{ TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: join(dir, "missing.pem") }, "TLS_KEY_FILE", /cannot read .*ENOENT/],
      [{ TLS_CERT_FILE: garbage, TLS_KEY_FILE: first.keyFile }, "TLS_CERT_FILE", /no PEM certificate/],
      // The key file given as the certificate, and the other way round.
      [{ TLS_CERT_FILE: first.keyFile, TLS_KEY_FILE: first.keyFile }, "TLS_CERT_FILE", /no PEM certificate/],
      [{ TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: first.certFile }, "TLS_KEY_FILE", /no unencrypted PEM private key/],
      [{ TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: encrypted }, "TLS_KEY_FILE", /no unencrypted PEM private key/],
      [{ TLS_CERT_FILE: first.certFile, TLS_KEY_FILE: second.keyFile }, "TLS_KEY_FILE", /not the private key of the certificate/],
    ];
    for (const [env, variable, message] of cases) {
      const err = refusal(env);
      expect(err.variable).toBe(variable);
      expect(err.message).toMatch(message);
      // The key's content is never quoted.
      expect(err.message).not.toContain(second.key.split("\n")[1]);
    }
  });
});
