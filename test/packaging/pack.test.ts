import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importSpecifiers } from "./import-specifiers.js";

// The npm package as a user gets it: `npm pack` (which builds), then the tarball installed in a
// fresh project that has only the interceptor's peer dependencies.

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const peers = ["@connectrpc/connect", "@bufbuild/protobuf", "jose"];
let work: string;
let files: string[];
let project: string;
let installed: string;
let tarball: string;

async function node(cwd: string, script: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd, timeout: 15_000 });
  return stdout;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "m2m-pack-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  files = packed!.files.map((f) => f.path);
  tarball = join(work, packed!.filename);

  project = join(work, "project");
  installed = join(project, "node_modules", "m2m-auth");
  await mkdir(installed, { recursive: true });
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  for (const peer of peers) {
    await mkdir(dirname(join(project, "node_modules", peer)), { recursive: true });
    await symlink(join(root, "node_modules", peer), join(project, "node_modules", peer), "dir");
  }
  await run("tar", ["-xzf", join(work, packed!.filename), "--strip-components=1", "-C", installed]);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("npm package", () => {
  it("holds the built library, its declarations and the protos, and no sources or tests", () => {
    for (const f of [
      "package.json",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/src/interceptor/index.js",
      "dist/src/interceptor/index.d.ts",
      "dist/src/listener.js",
      "dist/src/listener.d.ts",
      "dist/gen/m2mauth/v1/options_pb.js",
      "dist/gen/m2mauth/v1/options_pb.d.ts",
      "proto/m2mauth/v1/options.proto",
      // The admin console, built by Vite in `npm run build` (src/console/vite.config.ts).
      "dist/console/index.html",
    ]) {
      expect(files).toContain(f);
    }
    const strays = files.filter((f) => /^(test|bench|examples|src|gen)\//.test(f) || f.endsWith(".map") || /\.ts$/.test(f.replace(/\.d\.ts$/, "")));
    expect(strays).toEqual([]);
  });

  it("loads m2m-auth/interceptor with only @connectrpc/connect, @bufbuild/protobuf and jose installed", async () => {
    const names = JSON.parse(await node(project, `import("m2m-auth/interceptor").then((m) => console.log(JSON.stringify(Object.keys(m))))`)) as string[];
    for (const name of ["createAuthInterceptor", "createClientCredentialsInterceptor", "getAuthClaims", "authContextKey", "createTokenVerifier"]) {
      expect(names).toContain(name);
    }
    // The server's dependencies really are absent there, so the import above did not need them.
    for (const absent of ["ioredis", "pino", "@connectrpc/connect-node"]) {
      const out = await node(project, `import(${JSON.stringify(absent)}).then(() => console.log("found"), (e) => console.log(e.code))`);
      expect(out.trim(), absent).toBe("ERR_MODULE_NOT_FOUND");
    }
  });

  it("exports the proto option file and package.json", async () => {
    const script = `for (const s of ["m2m-auth/proto/m2mauth/v1/options.proto", "m2m-auth/package.json"]) console.log(import.meta.resolve(s))`;
    const [proto, pkg] = (await node(project, script))
      .trim()
      .split("\n")
      .map((u) => fileURLToPath(u));
    expect(await readFile(proto!, "utf8")).toContain("repeated string required_scopes = 51201;");
    expect((JSON.parse(await readFile(pkg!, "utf8")) as { peerDependencies: unknown }).peerDependencies).toMatchObject({
      "@connectrpc/connect": expect.any(String) as unknown,
    });
  });

  it("type-checks a consumer of m2m-auth/interceptor", async () => {
    await writeFile(
      join(project, "consumer.ts"),
      [
        `import { createAuthInterceptor, createClientCredentialsInterceptor, getAuthClaims, type AuthClaims } from "m2m-auth/interceptor";`,
        `export const server = createAuthInterceptor({ issuer: "https://issuer.example", audience: "api", keys: { keys: [] } });`,
        `export const client = createClientCredentialsInterceptor({ tokenUrl: "https://issuer.example/oauth/token", clientId: "id", clientSecret: "secret" });`,
        `export const sub = (claims: AuthClaims): string => claims.sub;`,
        `export { getAuthClaims };`,
        `import { createListener, type Listener } from "m2m-auth/listener";`,
        `export const listener: Listener = createListener({ handler: (_req, res) => res.end(), host: "127.0.0.1", port: 0 });`,
      ].join("\n"),
    );
    const options = { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, skipLibCheck: true, types: [] };
    await writeFile(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: options, files: ["consumer.ts"] }));
    await run(join(root, "node_modules", ".bin", "tsc"), ["-p", project], { cwd: project }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc failed:\n${err.stdout}`);
    });
  }, 30_000);

  it("keeps the interceptor's imports to its peers, node: modules, itself, rules.ts and the options descriptor", async () => {
    const dir = join(installed, "dist", "src", "interceptor");
    const allowed = (from: string, specifier: string): boolean => {
      if (specifier.startsWith("node:") || specifier === "jose" || specifier === "@connectrpc/connect") return true;
      if (specifier === "@bufbuild/protobuf" || specifier.startsWith("@bufbuild/protobuf/")) return true;
      if (specifier === "../../gen/m2mauth/v1/options_pb.js") return true;
      // The leaf of rules the issuer and the verifier share; it imports nothing (checked below).
      if (specifier === "../rules.js") return true;
      // Any other relative import must stay inside dist/src/interceptor/.
      if (!specifier.startsWith(".")) return false;
      const target = posix.normalize(posix.join(posix.dirname(from), specifier));
      return !target.startsWith("..") && !target.includes("/../");
    };
    const offending: string[] = [];
    for (const file of await walk(dir)) {
      const from = relative(dir, file).split("\\").join("/");
      for (const specifier of importSpecifiers(await readFile(file, "utf8"))) {
        if (!allowed(from, specifier)) offending.push(`${from}: ${specifier}`);
      }
    }
    expect(offending).toEqual([]);
    expect(importSpecifiers(await readFile(join(installed, "dist/src/rules.js"), "utf8"))).toEqual([]);
    // And the one generated file it needs imports only the protobuf runtime.
    const options = importSpecifiers(await readFile(join(installed, "dist/gen/m2mauth/v1/options_pb.js"), "utf8"));
    expect(options.filter((s) => !s.startsWith("@bufbuild/protobuf"))).toEqual([]);
  });
});

describe("listener entry", () => {
  it("serves HTTP/1.1 and h2c on one port from m2m-auth/listener, with only the peers installed", async () => {
    const script = `
      import * as http from "node:http";
      import * as http2 from "node:http2";
      import { createListener } from "m2m-auth/listener";
      const listener = createListener({ host: "127.0.0.1", port: 0, handler: (req, res) => res.end(\`\${req.httpVersion} \${req.url}\`) });
      const { url } = await listener.listen();
      const h1 = await new Promise((ok, fail) => http.get(url + "/one", (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => ok(b)); }).on("error", fail));
      const session = http2.connect(url);
      const h2 = await new Promise((ok, fail) => { const s = session.request({ ":path": "/two" }); let b = ""; s.on("data", (d) => (b += d)); s.on("end", () => ok(b)); s.on("error", fail); s.end(); });
      session.close();
      await listener.close();
      console.log(JSON.stringify([h1, h2]));`;
    expect(JSON.parse(await node(project, script))).toEqual(["1.1 /one", "2.0 /two"]);
  });

  it("imports only node: modules, through its own files", async () => {
    // The closure of relative imports from the entry; everything else must be a node: module.
    const dist = join(installed, "dist", "src");
    const seen = new Set<string>();
    const external: string[] = [];
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of importSpecifiers(await readFile(join(dist, file), "utf8"))) {
        if (specifier.startsWith(".")) await visit(posix.normalize(posix.join(posix.dirname(file), specifier)));
        else if (!specifier.startsWith("node:")) external.push(`${file}: ${specifier}`);
      }
    };
    await visit("listener.js");
    await visit("listener.d.ts");
    expect(external).toEqual([]);
    expect([...seen].filter((f) => f.endsWith(".js")).sort()).toEqual([
      "http/connections.js",
      "http/limits.js",
      "http/listener.js",
      "http/protocol-servers.js",
      "http/sniff-protocol.js",
      "listener.js",
    ]);
  });
});

describe("server entry", () => {
  it("exports the server by name and starts nothing on import", async () => {
    const source = await readFile(join(root, "src/index.ts"), "utf8");
    expect(source).not.toMatch(/export \*/);
    // Self-reference by package name: resolves "." through package.json "exports", as users do.
    const child = spawn(process.execPath, ["--input-type=module", "-e", `const m = await import("m2m-auth"); console.log(JSON.stringify(Object.keys(m)))`], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      // Anything listening or connecting would keep the process alive past this.
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    const names = JSON.parse(stdout) as string[];
    for (const name of ["createM2MServer", "loadConfig", "ConfigError", "createMemoryStore", "createRedisStore", "M2MError", "InvalidClientError"]) {
      expect(names).toContain(name);
    }
  });
});

// The bin, from the clone (dist/ just built by npm pack's prepare) and from the installed package.
// A first npx in a fresh clone took 13–16 s on CI, too near the 20 s default.
describe("command line", { timeout: 60_000 }, () => {
  it("runs as npx m2m-auth from the clone", async () => {
    const { stdout } = await run("npx", ["m2m-auth", "--help"], { cwd: root });
    expect(stdout).toContain("Usage: m2m-auth");
  });

  it("starts with npm start without rebuilding a current dist/", async () => {
    const stamp = join(root, "dist", ".build-stamp");
    const before = (await stat(stamp)).mtimeMs;
    const env = {
      PATH: process.env["PATH"] ?? "",
      PORT: "0",
      M2M_ADMIN_CLIENT_ID: "admin",
      M2M_ADMIN_CLIENT_SECRET: "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU",
    };
    // Its own process group: npm, the shell and node are stopped together.
    const child = spawn("npm", ["start", "--silent"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => child.once("close", resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('"msg":"listening"')) resolve();
      });
      void exited.then(() => reject(new Error(`npm start exited: ${stderr}${stdout}`)));
    });
    process.kill(-child.pid!, "SIGTERM");
    await exited;
    expect(stderr).not.toContain("building");
    expect((await stat(stamp)).mtimeMs).toBe(before);
  }, 60_000);

  it("installs from the tarball with its dependencies and runs as npx m2m-auth", async () => {
    const consumer = join(work, "cli-consumer");
    await mkdir(consumer);
    await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "cli-consumer", private: true }));
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: consumer, timeout: 120_000 });
    const { stdout } = await run("npx", ["m2m-auth", "clients", "list", "--help"], { cwd: consumer });
    expect(stdout).toContain("$ m2m-auth clients list --org org_59615193906282635 --json");
  }, 150_000);
});
