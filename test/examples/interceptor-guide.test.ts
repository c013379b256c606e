import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { codeBlocks, isExcerptOf, section, type CodeBlock } from "./excerpts.js";

// docs/interceptor.md, the interceptor's guide, cannot drift from the example or the library: the
// code blocks of "Protect your service" are excerpts of the example's files, its buf configuration,
// run in a fresh workspace, makes the example's code, and its export list is what index.ts exports.

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const example = join(root, "examples", "deployment-service");
const libraryImport = `"m2m-auth/interceptor"`;
const listenerImport = `"m2m-auth/listener"`;
let guide: string;
let text: string;
let blocks: CodeBlock[];
const sources = new Map<string, string>();

beforeAll(async () => {
  guide = await readFile(join(root, "docs", "interceptor.md"), "utf8");
  text = section(guide, "Protect your service");
  blocks = codeBlocks(text);
  for (const file of ["server.ts", "deployments.ts", "client.ts"]) {
    // The example imports the library's sources so it runs unbuilt; users import the package.
    const source = await readFile(join(example, file), "utf8");
    sources.set(file, source.replaceAll(`"../../src/interceptor/index.js"`, libraryImport).replaceAll(`"../../src/listener.js"`, listenerImport));
  }
  sources.set("deployment.proto", await readFile(join(example, "proto/example/v1/deployment.proto"), "utf8"));
});

function yamlBlock(file: string): string {
  const block = blocks.find((b) => b.lang === "yaml" && b.code.startsWith(`# ${file}\n`));
  if (block === undefined) throw new Error(`docs/interceptor.md: no yaml block for ${file}`);
  return block.code;
}

describe("docs/interceptor.md: Protect your service", () => {
  it("shows code that is in the example, importing the package", () => {
    const code = blocks.filter((b) => b.lang === "ts" || b.lang === "proto");
    expect(code.length).toBeGreaterThanOrEqual(4);
    for (const block of code) {
      const from = [...sources].filter(([, source]) => isExcerptOf(block.code, source)).map(([file]) => file);
      expect(from, `not an excerpt of the example:\n${block.code}`).not.toEqual([]);
    }
    const ts = code
      .filter((b) => b.lang === "ts")
      .map((b) => b.code)
      .join("\n");
    for (const name of ["createAuthInterceptor", "getAuthClaims", "createClientCredentialsInterceptor"]) {
      expect(ts).toContain(`import { ${name}`);
    }
    expect(ts).not.toContain("../../src");
    expect(ts.match(/from "[^"]*interceptor[^"]*"/g)?.every((m) => m === `from ${libraryImport}`)).toBe(true);
  });

  it("gives buf configuration that lints and generates the example's code from the package's protos", async () => {
    const dir = await mkdtemp(join(tmpdir(), "m2m-buf-"));
    try {
      await cp(join(example, "proto"), join(dir, "proto"), { recursive: true });
      // As `npm install m2m-auth` leaves it: the package's proto directory.
      await mkdir(join(dir, "node_modules", "m2m-auth"), { recursive: true });
      await cp(join(root, "proto"), join(dir, "node_modules", "m2m-auth", "proto"), { recursive: true });
      await writeFile(join(dir, "buf.yaml"), yamlBlock("buf.yaml"));
      await writeFile(join(dir, "buf.gen.yaml"), yamlBlock("buf.gen.yaml"));
      const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env["PATH"] ?? ""}` };
      await run("buf", ["lint"], { cwd: dir, env });
      await run("buf", ["generate"], { cwd: dir, env });
      for (const file of ["example/v1/deployment_pb.ts", "m2mauth/v1/options_pb.ts"]) {
        const made = await readFile(join(dir, "src", "gen", file), "utf8");
        expect(made, file).toBe(await readFile(join(example, "gen", file), "utf8"));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("documents the example's scripts and every environment variable it reads", async () => {
    const { scripts } = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    for (const script of ["example:server", "example:client"]) {
      expect(scripts[script]).toBeDefined();
      expect(text).toContain(`npm run ${script}`);
    }
    const variables = new Set<string>();
    for (const file of ["server.ts", "client.ts"]) {
      for (const m of sources.get(file)!.matchAll(/env\["([A-Z0-9_]+)"\]/g)) variables.add(m[1] as string);
    }
    expect([...variables]).toEqual(
      expect.arrayContaining(["PORT", "M2M_ISSUER", "M2M_AUDIENCE", "M2M_JWKS_URI", "CLIENT_ID", "CLIENT_SECRET", "DEPLOYMENT_SERVICE_URL"]),
    );
    for (const variable of variables) expect(text).toContain(`\`${variable}\``);
  });
});

describe("docs/interceptor.md: Exports", () => {
  // Rows of the export list: `name` | kind | promise.
  function listed(): Map<string, string> {
    const list = /<!-- exports:start -->([\s\S]*?)<!-- exports:end -->/.exec(guide)?.[1] ?? "";
    return new Map([...list.matchAll(/^\| `(\w+)` \| (\w+) \| .+ \|$/gm)].map((m) => [m[1] as string, m[2] as string]));
  }

  it("names exactly the runtime exports of m2m-auth/interceptor", async () => {
    const library = (await import("../../src/interceptor/index.js")) as Record<string, unknown>;
    const runtime = [...listed()].filter(([, kind]) => kind !== "type").map(([name]) => name);
    expect(runtime.sort()).toEqual(Object.keys(library).sort());
  });

  it("names exactly the type exports of index.ts, and the README links the guide", async () => {
    const index = await readFile(join(root, "src", "interceptor", "index.ts"), "utf8");
    const types = [...index.matchAll(/\btype (\w+)/g)].map((m) => m[1] as string);
    const listedTypes = [...listed()].filter(([, kind]) => kind === "type").map(([name]) => name);
    expect(listedTypes.sort()).toEqual([...new Set(types)].sort());
    expect(section(await readFile(join(root, "README.md"), "utf8"), "Protect your service")).toContain("(docs/interceptor.md)");
  });
});

describe("docs/interceptor.md: One port for every protocol", () => {
  it("shows the example's use of m2m-auth/listener, importing the package", () => {
    const code = codeBlocks(section(guide, "One port for every protocol")).filter((b) => b.lang === "ts");
    expect(code).toHaveLength(1);
    expect(isExcerptOf(code[0]!.code, sources.get("server.ts")!)).toBe(true);
    expect(code[0]!.code).toContain(`import { createListener } from ${listenerImport};`);
  });

  it("names exactly the exports of m2m-auth/listener", async () => {
    const list = /<!-- listener-exports:start -->([\s\S]*?)<!-- listener-exports:end -->/.exec(guide)?.[1] ?? "";
    const listed = [...list.matchAll(/^\| `(\w+)` \| (\w+) \| .+ \|$/gm)].map((m) => [m[1] as string, m[2] as string] as const);
    const entry = (await import("../../src/listener.js")) as Record<string, unknown>;
    expect(listed.filter(([, kind]) => kind !== "type").map(([name]) => name)).toEqual(Object.keys(entry).sort());
    const source = await readFile(join(root, "src", "listener.ts"), "utf8");
    const types = [...source.matchAll(/\btype (\w+)|export type \{ (\w+) \}/g)].map((m) => (m[1] ?? m[2]) as string);
    expect(
      listed
        .filter(([, kind]) => kind === "type")
        .map(([name]) => name)
        .sort(),
    ).toEqual(types.sort());
  });
});
