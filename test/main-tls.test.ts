import { execFile, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFile, writeFile } from "node:fs/promises";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../gen/m2mauth/v1/tokens_pb.js";
import { freePort } from "./support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "./support/redis.js";
import { killAll, spawnService } from "./support/service-process.js";
import { makeCertificate, type TestCertificate } from "./support/tls-certificate.js";

// The process as an operator runs it with TLS_CERT_FILE and TLS_KEY_FILE: HTTPS and gRPC over TLS
// on the one port, an https issuer, and SIGHUP swapping the certificate in place, with one process
// and with a primary and two workers.

const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);
const ADMIN = { id: "tls-admin", secret: "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU" };
const perTest: ChildProcess[] = [];
afterEach(() => killAll(perTest));

/** request sends one HTTP/1.1 request over a fresh TLS connection to localhost, trusting `ca`. */
function request(port: number, path: string, ca: string[], body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "localhost",
        port,
        path,
        ca,
        agent: false,
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** served returns the fingerprint of the certificate a new connection to `port` is shown. */
function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on("error", reject);
  });
}

function h2Get(session: http2.ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let status = 0;
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", () => {});
    stream.on("end", () => resolve(status));
    stream.on("error", reject);
  });
}

const fingerprint = (cert: TestCertificate) => new X509Certificate(cert.cert).fingerprint256;
const tokenForm = new URLSearchParams({ grant_type: "client_credentials", client_id: ADMIN.id, client_secret: ADMIN.secret }).toString();

let live: TestCertificate;
let next: TestCertificate;
beforeAll(async () => {
  [live, next] = await Promise.all([makeCertificate("live"), makeCertificate("next")]);
});

/** swapFiles copies `from`'s pair over the files the service was started with. */
async function swapFiles(from: TestCertificate): Promise<void> {
  await copyFile(from.keyFile, live.keyFile);
  await copyFile(from.certFile, live.certFile);
}

describe("main with TLS", () => {
  it("serves tokens over HTTPS and gRPC over TLS, advertises https, and reloads the certificate on SIGHUP", async () => {
    const original = { cert: live.cert, key: live.key };
    const service = spawnService(
      { TLS_CERT_FILE: live.certFile, TLS_KEY_FILE: live.keyFile, M2M_ADMIN_CLIENT_ID: ADMIN.id, M2M_ADMIN_CLIENT_SECRET: ADMIN.secret },
      await freePort(),
      perTest,
    );
    const { port } = service;
    const listening = await service.waitFor('"listening"', (l) => l.msg === "listening");
    expect(listening).toMatchObject({ url: `https://127.0.0.1:${port}`, issuer: `https://localhost:${port}` });
    expect(service.lines().some((l) => /cleartext/.test(l.msg))).toBe(false);
    const ca = [live.cert, next.cert];

    const metadata = JSON.parse((await request(port, "/.well-known/oauth-authorization-server", ca)).body) as Record<string, string>;
    expect([metadata["issuer"], metadata["token_endpoint"], metadata["jwks_uri"]]).toEqual([
      `https://localhost:${port}`,
      `https://localhost:${port}/oauth/token`,
      `https://localhost:${port}/.well-known/jwks.json`,
    ]);
    const token = await request(port, "/oauth/token", ca, tokenForm);
    expect(token.status, token.body).toBe(200);
    expect(JSON.parse(token.body)).toMatchObject({ token_type: "Bearer", access_token: expect.any(String) as unknown });

    const sessionManager = new Http2SessionManager(`https://localhost:${port}`, undefined, { ca });
    try {
      const grpc = createClient(TokenService, createGrpcTransport({ baseUrl: `https://localhost:${port}`, sessionManager }));
      const issued = await grpc.issueToken({ clientId: ADMIN.id, clientSecret: ADMIN.secret });
      expect(issued.accessToken).not.toBe("");
    } finally {
      sessionManager.abort();
    }
    // An independent stack (buf curl: Go's TLS and HTTP/2), over TLS, through server reflection.
    const buf = await run(
      "npx",
      [
        "buf",
        "curl",
        "--protocol",
        "grpc",
        "--cacert",
        live.certFile,
        "-d",
        JSON.stringify({ client_id: ADMIN.id, client_secret: ADMIN.secret }),
        `https://localhost:${port}/m2mauth.v1.TokenService/IssueToken`,
      ],
      { cwd: root, timeout: 30_000 },
    );
    expect(JSON.parse(buf.stdout)).toMatchObject({ accessToken: expect.any(String) as unknown });

    // An HTTP/2 connection opened before the reload keeps working after it.
    const session = http2.connect(`https://localhost:${port}`, { ca });
    try {
      expect(await h2Get(session, "/healthz")).toBe(200);
      expect(await served(port)).toBe(fingerprint(live));
      await swapFiles(next);
      service.child.kill("SIGHUP");
      const reloaded = await service.waitFor("the reload line", (l) => l.msg.startsWith("TLS certificate reloaded"));
      expect(reloaded).toMatchObject({ level: "info", fingerprint256: fingerprint(next) });
      expect(await served(port)).toBe(fingerprint(next));
      expect(await h2Get(session, "/healthz")).toBe(200);

      // A reload from files that do not pair keeps the certificate in use, and the process.
      await writeFile(live.keyFile, original.key);
      service.child.kill("SIGHUP");
      const failed = await service.waitFor("the failed reload line", (l) => l.msg.startsWith("TLS reload failed"));
      expect(failed).toMatchObject({ level: "error", err: expect.stringMatching(/not the private key of the certificate/) as unknown });
      expect(await served(port)).toBe(fingerprint(next));
      expect((await request(port, "/oauth/token", ca, tokenForm)).status).toBe(200);
      expect(await h2Get(session, "/healthz")).toBe(200);
      expect(service.child.exitCode).toBeNull();
      // Nothing of the key reached the log.
      expect(JSON.stringify(service.lines())).not.toContain(original.key.split("\n")[1]);
    } finally {
      session.close();
      await writeFile(live.certFile, original.cert);
    }
  }, 30_000);

  it("reloads in every worker on one SIGHUP to the primary, and kills none", async () => {
    const service = spawnService(
      { REDIS_URL: testRedisUrl(), M2M_KEY_PREFIX: uniquePrefix(), M2M_WORKERS: "2", TLS_CERT_FILE: next.certFile, TLS_KEY_FILE: next.keyFile },
      await freePort(),
      perTest,
    );
    const started = await service.waitFor('"started workers"', (l) => l.msg === "started workers", 25_000);
    expect(started).toMatchObject({ url: `https://127.0.0.1:${service.port}` });
    const workers = started["workerPids"] as number[];
    const spare = await makeCertificate("spare");
    await copyFile(spare.keyFile, next.keyFile);
    await copyFile(spare.certFile, next.certFile);
    service.child.kill("SIGHUP");
    const reloads = () => service.lines().filter((l) => l.msg.startsWith("TLS certificate reloaded"));
    await service.waitFor("a reload line from each worker", () => reloads().length >= 2);
    expect(
      reloads()
        .map((l) => l.pid)
        .sort(),
    ).toEqual([...workers].sort());
    expect(reloads().every((l) => l["fingerprint256"] === fingerprint(spare))).toBe(true);
    // The primary accepts and hands connections out in turn: two new ones reach both workers.
    expect([await served(service.port), await served(service.port)]).toEqual([fingerprint(spare), fingerprint(spare)]);
    expect(service.lines().filter((l) => /worker (died|stopped)/.test(l.msg))).toEqual([]);
    expect(service.child.exitCode).toBeNull();
  }, 40_000);
});

describe("main without TLS", () => {
  /** cleartextLines starts the service with `env` and returns its lines about serving cleartext. */
  const cleartextLines = async (env: Record<string, string>) => {
    const service = spawnService(env, await freePort(), perTest);
    await service.waitFor('"listening"', (l) => l.msg === "listening");
    return service.lines().filter((l) => /cleartext/.test(l.msg));
  };

  it("says once at info on a loopback-only host, and once at warn on any other, that the port must sit behind TLS", async () => {
    const loopback = await cleartextLines({});
    expect(loopback.map((l) => [l.level, l.msg])).toEqual([
      ["info", expect.stringMatching(/token endpoint must sit behind TLS \(a mesh or a proxy\)/) as unknown],
    ]);
    const open = await cleartextLines({ HOST: "0.0.0.0" });
    expect(open.map((l) => [l.level, l.host])).toEqual([["warn", "0.0.0.0"]]);
  }, 20_000);
});
