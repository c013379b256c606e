import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidateTokenRequestSchema } from "../../gen/m2mauth/v1/tokens_pb.js";
import { captureLog, type CapturedLog } from "../support/log-capture.js";
import { startTestServer, type TestServer } from "../support/server.js";

// A protobuf request body that does not parse, over each protocol that carries one: connect-es
// answers Internal before any interceptor (see src/rpc/parse-errors.ts); the service answers
// InvalidArgument and logs one line, without the body.

const validate = "/m2mauth.v1.TokenService/ValidateToken";
const watch = "/grpc.health.v1.Health/Watch";
// Field 1 (token), length 40, then fewer bytes than that: "premature EOF". The bytes it does hold
// stand for a caller's secret that must not reach the log.
const secretBytes = "s3cr3t-never-logged";
const badMessage = Buffer.concat([Buffer.from([0x0a, 40]), Buffer.from(secretBytes)]);
/** frame is one length-prefixed message (gRPC §Length-Prefixed-Message, shared by gRPC-Web and Connect streams). */
function frame(flags: number, data: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
}

let server: TestServer;
let log: CapturedLog;
beforeAll(async () => {
  log = captureLog();
  server = await startTestServer({ backend: "memory", logger: log.logger });
});
afterAll(() => server.close());

/** linesOf returns the log lines of the request `requestId`. */
const linesOf = (requestId: string | null) => log.lines.filter((l) => l["requestId"] === requestId);

/** h2Call sends one HTTP/2 POST and resolves status, headers, trailers and body. */
function h2Call(
  path: string,
  contentType: string,
  body: Buffer,
): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(server.url);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t: http2.IncomingHttpHeaders) => (trailers = t));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      resolve({ headers, trailers, body: Buffer.concat(chunks) });
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

describe("a protobuf body that does not parse", () => {
  it("answers Connect unary 400 invalid_argument and logs one line without the body", async () => {
    const res = await fetch(`${server.url}${validate}`, { method: "POST", headers: { "content-type": "application/proto" }, body: badMessage });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: "invalid_argument", message: "parse binary: premature EOF" });
    const lines = linesOf(res.headers.get("x-request-id"));
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: "rpc",
        rpc: validate,
        code: "InvalidArgument",
        protocol: "connect",
        reason: "parse binary: premature EOF",
        sourceAddress: "127.0.0.1",
      }),
    ]);
    expect(JSON.stringify(log.lines)).not.toContain(secretBytes);
  });

  it("answers gRPC with grpc-status 3 in the trailers, logged once", async () => {
    const res = await h2Call(validate, "application/grpc", frame(0, badMessage));
    expect(res.headers[":status"]).toBe(200);
    expect([res.trailers["grpc-status"], decodeURIComponent(String(res.trailers["grpc-message"]))]).toEqual(["3", "parse binary: premature EOF"]);
    expect(linesOf(String(res.headers["x-request-id"]))).toEqual([expect.objectContaining({ code: "InvalidArgument", protocol: "grpc", rpc: validate })]);
  });

  it("answers gRPC-Web with grpc-status 3 in the trailer frame, logged once", async () => {
    const res = await fetch(`${server.url}${validate}`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: frame(0, badMessage),
    });
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(body[0]).toBe(0x80);
    expect(body.readUInt32BE(1)).toBe(body.byteLength - 5);
    const trailer = body.subarray(5).toString("latin1");
    expect(trailer).toMatch(/^grpc-status: ?3\r$/m);
    expect(trailer).toMatch(/^grpc-message: ?parse%20binary%3A%20premature%20EOF\r$/m);
    expect(linesOf(res.headers.get("x-request-id"))).toEqual([expect.objectContaining({ code: "InvalidArgument", protocol: "grpc-web" })]);
  });

  it("answers a Connect stream with an invalid_argument EndStreamResponse, logged once", async () => {
    const res = await h2Call(watch, "application/connect+proto", frame(0, badMessage));
    expect(res.body[0]).toBe(0x02);
    expect(JSON.parse(res.body.subarray(5).toString("utf8"))).toMatchObject({ error: { code: "invalid_argument", message: "parse binary: premature EOF" } });
    expect(linesOf(String(res.headers["x-request-id"]))).toEqual([expect.objectContaining({ code: "InvalidArgument", protocol: "connect", rpc: watch })]);
  });

  it("leaves a well-formed message, and JSON that does not parse, as they were", async () => {
    const good = toBinary(ValidateTokenRequestSchema, create(ValidateTokenRequestSchema, { token: "not-a-jwt" }));
    const ok = await fetch(`${server.url}${validate}`, { method: "POST", headers: { "content-type": "application/proto" }, body: good });
    expect(ok.status).toBe(200);
    const grpcOk = await h2Call(validate, "application/grpc", frame(0, good));
    expect(grpcOk.trailers["grpc-status"]).toBe("0");
    // connect-es's own answer to malformed JSON: InvalidArgument, not logged by this edge.
    const json = await fetch(`${server.url}${validate}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { code: string }).code).toBe("invalid_argument");
    expect(linesOf(json.headers.get("x-request-id")).filter((l) => l["protocol"] !== undefined)).toEqual([]);
  });
});
