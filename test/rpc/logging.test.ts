import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { createM2MServer, type M2MServer } from "../../src/server.js";
import { createMemoryStore } from "../../src/store/memory-store.js";

// One log line per RPC outcome, with the code the caller saw; never a secret or a token.

/** LogLine is a JSON log line: pino's level and message, and an RPC's name and code on an "rpc" line. */
interface LogLine {
  level: number;
  msg: string;
  rpc?: string;
  code?: string;
  [field: string]: unknown;
}

const lines: LogLine[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as LogLine);
    done();
  },
});
let server: M2MServer;
let url: string;
const secret = "logging-test-admin-secret-0123456789abcdef";

beforeAll(async () => {
  server = await createM2MServer({
    host: "127.0.0.1",
    port: 0,
    issuer: "http://m2m-auth.test",
    signingAlg: "ES256",
    admin: { clientId: "admin", clientSecret: secret },
    store: createMemoryStore(),
    logger: pino({ level: "info" }, sink),
  });
  url = (await server.listen()).url;
});
afterAll(() => server.close());

describe("RPC logging", () => {
  it("logs each outcome once with the caller's code, and no secret or token", async () => {
    const transport = createGrpcTransport({ baseUrl: url });
    const tokens = createClient(TokenService, transport);
    const clients = createClient(OrganizationClientService, transport);
    const { accessToken } = await tokens.issueToken({ clientId: "admin", clientSecret: secret });
    await tokens.issueToken({ clientId: "admin", clientSecret: "wrong" }).catch(() => undefined);
    await clients.listOrganizationClients({ organizationId: "org_1" }).catch(() => undefined);
    await clients
      .getOrganizationClient({ organizationId: "org_1", clientId: "m2morg_none" }, { headers: { authorization: `Bearer ${accessToken}` } })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const rpc = lines.filter((l) => l.msg === "rpc").map((l) => [l.rpc!.split("/").pop(), l.code, l.level]);
    expect(rpc).toEqual([
      ["IssueToken", "ok", 30],
      ["IssueToken", "Unauthenticated", 30],
      ["ListOrganizationClients", "Unauthenticated", 30],
      ["GetOrganizationClient", "NotFound", 30],
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(accessToken);
    expect(text).not.toContain("stack");
  });

  it("logs health probes, RPC and HTTP, at debug: an info log is not buried under them", async () => {
    lines.length = 0;
    await createClient(Health, createGrpcTransport({ baseUrl: url })).check({});
    for (const path of ["/healthz", "/readyz", "/livez", "/keys"]) expect((await fetch(`${url}${path}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.filter((l) => l.msg === "rpc")).toEqual([]);
    expect(lines.filter((l) => l.msg === "http").map((l) => l["path"])).toEqual(["/keys"]);
  });
});
