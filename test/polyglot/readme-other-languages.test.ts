import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { file_m2mauth_v1_clients } from "../../gen/m2mauth/v1/clients_pb.js";
import { file_m2mauth_v1_keys } from "../../gen/m2mauth/v1/keys_pb.js";
import { file_m2mauth_v1_options } from "../../gen/m2mauth/v1/options_pb.js";
import { file_m2mauth_v1_tokens } from "../../gen/m2mauth/v1/tokens_pb.js";
import { m2mErrorCodes } from "../../src/errors.js";
import { connectCodeOf } from "../../src/rpc/connect-errors.js";
import { codeBlocks, section } from "../examples/excerpts.js";

// The README's "Calling from other languages", where it cannot run here (no Go or grpc-java
// toolchain): its names agree with the protos' file options, its buf.gen.yaml is one buf accepts
// up to the missing plugins, and its status table is the RPC edge's mapping. The Python steps run
// in python.test.ts.

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const files = [file_m2mauth_v1_clients, file_m2mauth_v1_keys, file_m2mauth_v1_options, file_m2mauth_v1_tokens];
let text: string;

beforeAll(async () => {
  text = section(await readFile(join(root, "README.md"), "utf8"), "Calling from other languages");
});

describe("README: calling from other languages", () => {
  it("names the generated packages every public proto file declares", () => {
    const options = files.map((f) => f.proto.options);
    const [go, goName] = (options[0]?.goPackage ?? "").split(";");
    expect(new Set(options.map((o) => [o?.goPackage, o?.javaPackage, o?.javaMultipleFiles, o?.csharpNamespace].join(" "))).size).toBe(1);
    expect(text).toContain(`\`${go}\` (package \`${goName}\``);
    expect(text).toContain(`\`${options[0]?.javaPackage}\``);
    expect(options[0]?.javaMultipleFiles).toBe(true);
    expect(text).toContain(`C# gets \`${options[0]?.csharpNamespace}\``);
  });

  it("gives a buf.gen.yaml for Go that buf accepts, up to the plugins it runs", async () => {
    const template = codeBlocks(text).find((b) => b.lang === "yaml")?.code ?? "";
    expect(template).toContain("protoc-gen-go");
    const dir = await mkdtemp(join(tmpdir(), "m2m-go-"));
    try {
      await symlink(join(root, "proto"), join(dir, "proto"));
      await writeFile(join(dir, "buf.gen.yaml"), template);
      const failure = await run(join(root, "node_modules/.bin/buf"), ["generate"], { cwd: dir }).then(
        () => undefined,
        (err: { stderr: string }) => err.stderr,
      );
      if (failure === undefined) {
        // Where the Go plugins are installed, the code lands where the import path says.
        await expect(readFile(join(dir, "gen/go/m2mauth/v1/tokens.pb.go"), "utf8")).resolves.toContain("package m2mauthv1");
      } else {
        // It got as far as running the plugins: the inputs and paths resolved to proto files.
        expect(failure).toMatch(/plugin protoc-gen-go: exec: "protoc-gen-go": executable file not found/);
        expect(failure).not.toMatch(/no \.proto files were targeted/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lists each domain code under the gRPC status the RPC edge answers it with", () => {
    const rows = [...text.matchAll(/^\| `([A-Z_]+)` \((\d+)\) \| ([^|]*) \|/gm)].map((m) => ({ status: m[1], number: Number(m[2]), codes: m[3] ?? "" }));
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const code of m2mErrorCodes) {
      const row = rows.find((r) => r.codes.includes(`\`${code}\``));
      const connect = connectCodeOf(code);
      // Code's names are PascalCase (InvalidArgument); gRPC's UPPER_SNAKE_CASE (INVALID_ARGUMENT).
      const grpcName = Code[connect].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase();
      expect([code, row?.status, row?.number]).toEqual([code, grpcName, connect]);
    }
  });
});
