import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Builds @m2m-auth/interceptor: the interceptor library alone, from the same sources as the
// server, for services that must not install the server's runtime dependencies (ioredis, pino,
// connect-node, prom-client, commander, OpenTelemetry). tsconfig.interceptor.json compiles
// src/interceptor, the rules it shares (src/rules.ts) and the generated options extension into
// dist/interceptor-package, and this writes the package's package.json (the version and ranges
// read from the root's: one home) and README beside them. Run from a clone with tsx
// (`npm run build:interceptor`); `npm run pack:interceptor` makes the tarball.

/** interceptorPackageName is the library's own package name. */
export const interceptorPackageName = "@m2m-auth/interceptor";

interface RootManifest {
  version: string;
  license: string;
  engines: Record<string, string>;
  peerDependencies: Record<string, string>;
}

const root = fileURLToPath(new URL("../..", import.meta.url));
const defaultOut = join(root, "dist", "interceptor-package");

function range(manifest: RootManifest, name: string): string {
  const value = manifest.peerDependencies[name];
  if (value === undefined) throw new Error(`package.json has no peer dependency ${name}: the interceptor needs it`);
  return value;
}

/** interceptorManifest is the library's package.json, derived from the root's. */
export function interceptorManifest(manifest: RootManifest): Record<string, unknown> {
  const entry = { types: "./src/interceptor/index.d.ts", default: "./src/interceptor/index.js" };
  return {
    name: interceptorPackageName,
    version: manifest.version,
    description: "Connect/gRPC interceptors for m2m-auth tokens: verify RFC 9068 access tokens and scopes in a service, fetch and attach tokens in a client",
    license: manifest.license,
    type: "module",
    engines: manifest.engines,
    main: entry.default,
    types: entry.types,
    exports: { ".": entry, "./proto/*": "./proto/*", "./package.json": "./package.json" },
    sideEffects: false,
    // The service's own Connect and protobuf runtime: one copy, or its types and registries would split.
    peerDependencies: { "@connectrpc/connect": range(manifest, "@connectrpc/connect"), "@bufbuild/protobuf": range(manifest, "@bufbuild/protobuf") },
    dependencies: { jose: range(manifest, "jose") },
  };
}

const readme = (version: string) => `# @m2m-auth/interceptor ${version}

The interceptor library of m2m-auth, alone: the same code as the full package's
\`m2m-auth/interceptor\`, without the server's dependencies.

- \`createAuthInterceptor\` (server side): verifies the bearer token (RFC 9068 JWT, keys from the
  issuer's JWKS) and the scopes each method declares with the \`m2mauth.v1.required_scopes\` option.
- \`createClientCredentialsInterceptor\` (client side): gets, caches and attaches tokens.
- \`createTokenVerifier\`: the verification alone.

Peer dependencies: \`@connectrpc/connect\` and \`@bufbuild/protobuf\` (your service has them);
dependency: \`jose\`. The option's proto is in \`proto/m2mauth/v1/options.proto\`.
`;

/** buildInterceptorPackage compiles the library into `out` (default dist/interceptor-package) and writes its manifest and README there. */
export function buildInterceptorPackage(out: string = defaultOut): string {
  rmSync(out, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.interceptor.json"), "--outDir", out], { stdio: "inherit" });
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as RootManifest;
  writeFileSync(join(out, "package.json"), `${JSON.stringify(interceptorManifest(manifest), null, 2)}\n`);
  writeFileSync(join(out, "README.md"), readme(manifest.version));
  mkdirSync(join(out, "proto", "m2mauth", "v1"), { recursive: true });
  copyFileSync(join(root, "proto", "m2mauth", "v1", "options.proto"), join(out, "proto", "m2mauth", "v1", "options.proto"));
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`built ${buildInterceptorPackage()}\n`);
}
