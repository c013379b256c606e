import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createM2MServer } from "../../src/server.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { startTestServer, type TestServer } from "../support/server.js";

// gRPC server reflection, by an independent client (buf curl, with no schema but what reflection
// sends) and by a Connect client reading the bidi stream answer by answer, v1 and v1alpha.

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const ourMethods = [
  "m2mauth.v1.OrganizationClientService/CreateOrganizationClient",
  "m2mauth.v1.OrganizationClientService/ListOrganizationClients",
  "m2mauth.v1.SigningKeyService/RotateSigningKey",
  "m2mauth.v1.TokenService/IssueToken",
  "m2mauth.v1.TokenService/ValidateToken",
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/Watch",
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ backend: "memory" });
});
afterAll(() => t?.close());

describe("buf curl through reflection", () => {
  it("runs the README's gRPC tools snippet: lists every method, checks health, calls a method", async () => {
    const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
    const section = /<!-- grpc-tools:start -->\n```bash\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(section).toContain("--list-methods");
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", section], { cwd: root, env: { ...process.env, M2M_URL: t.url }, timeout: 60_000 });
    for (const method of ourMethods) expect(stdout).toContain(`${method}\n`);
    expect(stdout).toContain('"status": "SERVING"');
    expect(stdout).toContain('"reason": "malformed token"');
  }, 60_000);

  it("issues a token over gRPC with the schema only reflection gave it", async () => {
    const body = JSON.stringify({ client_id: t.admin.clientId, client_secret: t.admin.clientSecret });
    const { stdout } = await run(
      "npx",
      ["buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d", body, `${t.url}/m2mauth.v1.TokenService/IssueToken`],
      { cwd: root, timeout: 30_000 },
    );
    const answer = JSON.parse(stdout) as { accessToken?: string; tokenType?: string };
    expect(answer.tokenType).toBe("Bearer");
    expect(answer.accessToken?.split(".")).toHaveLength(3);
  }, 30_000);
});

/** ask sends each request on one reflection stream and returns the answers, in order. */
async function ask(baseUrl: string, requests: v1.ServerReflectionRequest[]): Promise<v1.ServerReflectionResponse[]> {
  const client = createClient(v1.ServerReflection, createGrpcTransport({ baseUrl }));
  const answers: v1.ServerReflectionResponse[] = [];
  async function* send() {
    yield* requests;
  }
  for await (const answer of client.serverReflectionInfo(send())) answers.push(answer);
  return answers;
}

const request = (messageRequest: v1.ServerReflectionRequest["messageRequest"]) => create(v1.ServerReflectionRequestSchema, { host: "h", messageRequest });

function filesOf(answer: v1.ServerReflectionResponse) {
  if (answer.messageResponse.case !== "fileDescriptorResponse") throw new Error(`not files: ${answer.messageResponse.case}`);
  return answer.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

describe("ServerReflectionInfo over a Connect gRPC client", () => {
  it("answers each request on one stream: services, files with their dependencies, extensions, errors", async () => {
    const answers = await ask(t.url, [
      request({ case: "listServices", value: "" }),
      request({ case: "fileContainingSymbol", value: "m2mauth.v1.TokenService.IssueToken" }),
      request({ case: "fileByFilename", value: "grpc/health/v1/health.proto" }),
      request({
        case: "fileContainingExtension",
        value: create(v1.ExtensionRequestSchema, { containingType: "google.protobuf.MethodOptions", extensionNumber: 51201 }),
      }),
      request({ case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" }),
      request({ case: "fileContainingSymbol", value: "m2mauth.v1.NoSuchThing" }),
      request({ case: undefined }),
    ]);
    expect(answers).toHaveLength(7);
    const [services, symbol, byName, extension, numbers, unknown, empty] = answers;
    expect(services!.validHost).toBe("h");
    expect(services!.originalRequest?.messageRequest.case).toBe("listServices");
    const names = services!.messageResponse.case === "listServicesResponse" ? services!.messageResponse.value.service.map((s) => s.name) : [];
    expect(names.sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "m2mauth.v1.OrganizationClientService",
      "m2mauth.v1.ResourceServerService",
      "m2mauth.v1.SigningKeyService",
      "m2mauth.v1.TokenService",
    ]);

    // The file first, then everything it imports: enough to build every descriptor it names.
    const files = filesOf(symbol!);
    expect(files[0]?.name).toBe("m2mauth/v1/tokens.proto");
    const registry = createFileRegistry(files[0]!, (name) => files.find((f) => f.name === name));
    expect(registry.getService("m2mauth.v1.TokenService")?.methods.map((m) => m.name)).toEqual(TokenService.methods.map((m) => m.name));
    expect(filesOf(byName!).map((f) => f.name)).toEqual(["grpc/health/v1/health.proto"]);
    expect(filesOf(extension!)[0]?.name).toBe("m2mauth/v1/options.proto");
    expect(numbers!.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.MethodOptions", extensionNumber: [51201] },
    });
    expect(unknown!.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    expect(empty!.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.InvalidArgument } });
  });

  it("answers v1alpha clients the same", async () => {
    const client = createClient(v1alpha.ServerReflection, createGrpcTransport({ baseUrl: t.url }));
    async function* send() {
      yield create(v1alpha.ServerReflectionRequestSchema, { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" } });
    }
    const answers: v1alpha.ServerReflectionResponse[] = [];
    for await (const answer of client.serverReflectionInfo(send())) answers.push(answer);
    expect(answers).toHaveLength(1);
    const response = answers[0]!.messageResponse;
    expect(response.case).toBe("fileDescriptorResponse");
    const bytes = response.case === "fileDescriptorResponse" ? response.value.fileDescriptorProto : [];
    expect(bytes.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)).toEqual(["grpc/health/v1/health.proto"]);
  });

  it("is not served with reflection off (M2M_REFLECTION=false), while health is", async () => {
    const store = createMemoryStore();
    const server = await createM2MServer({
      host: "127.0.0.1",
      port: 0,
      issuer: "http://m2m-auth.test",
      signingAlg: "ES256",
      store,
      logger: pino({ level: "silent" }),
      reflection: false,
    });
    try {
      const { url } = await server.listen();
      const err = await ask(url, [request({ case: "listServices", value: "" })]).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).toBe(Code.Unimplemented);
      await expect(createClient(Health, createGrpcTransport({ baseUrl: url })).check({})).resolves.toMatchObject({ status: 1 });
    } finally {
      await server.close();
      await store.close();
    }
  });
});
