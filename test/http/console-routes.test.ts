import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleHeaders, createConsoleRoutes, defaultConsoleDir } from "../../src/http/console-routes.js";
import { startTestServer } from "../support/server.js";

// The console's files over a real HTTP server: a built folder made here (the e2e test builds the
// real one), one never built, and what must never be served.

let root: string;
let built: Server;
let unbuilt: Server;
let builtUrl: string;
let unbuiltUrl: string;

async function serve(dir: string): Promise<[Server, string]> {
  const routes = createConsoleRoutes({ dir });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    routes(req, res, url).then(
      (taken) => {
        if (!taken) res.writeHead(418).end("not the console's");
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

// A raw request, so the path reaches the server exactly as written (fetch would normalize it).
function raw(base: string, path: string, method = "GET"): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject).end();
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "console-routes-"));
  const dir = join(root, "console");
  mkdirSync(join(dir, "assets"), { recursive: true });
  writeFileSync(join(dir, "index.html"), '<!doctype html><script type="module" src="/console/assets/index-abc123.js"></script>');
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
  writeFileSync(join(dir, "assets", "index-abc123.css"), "body{}");
  writeFileSync(join(root, "secret.txt"), "outside");
  [built, builtUrl] = await serve(dir);
  [unbuilt, unbuiltUrl] = await serve(join(root, "never-built"));
});
afterAll(async () => {
  await Promise.all([built, unbuilt].map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(root, { recursive: true, force: true });
});

describe("console routes", () => {
  it("serves index.html for /console, /console/ and the page's own views, revalidated", async () => {
    for (const path of ["/console", "/console/", "/console/clients/m2morg_x", "/console/keys?x=1"]) {
      const res = await raw(builtUrl, path);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.body).toContain("index-abc123.js");
    }
  });

  it("serves hashed assets with their types, cached as immutable", async () => {
    const js = await raw(builtUrl, "/console/assets/index-abc123.js");
    expect([js.status, js.headers["content-type"], js.headers["cache-control"]]).toEqual([
      200,
      "text/javascript; charset=utf-8",
      "public, max-age=31536000, immutable",
    ]);
    const css = await raw(builtUrl, "/console/assets/index-abc123.css");
    expect([css.status, css.headers["content-type"]]).toEqual([200, "text/css; charset=utf-8"]);
    const head = await raw(builtUrl, "/console/assets/index-abc123.js", "HEAD");
    expect([head.status, head.headers["content-length"], head.body]).toEqual([200, "14", ""]);
  });

  it("puts the security headers on every answer, errors included", async () => {
    for (const path of ["/console/", "/console/assets/index-abc123.js", "/console/assets/missing.js", "/console/%E0%A4%A"]) {
      const res = await raw(builtUrl, path);
      for (const [name, value] of Object.entries(consoleHeaders)) expect(res.headers[name], `${path} ${name}`).toBe(value);
    }
    expect(consoleHeaders["content-security-policy"]).toContain("script-src 'self';");
    expect(consoleHeaders["x-frame-options"]).toBe("DENY");
  });

  it("refuses paths that leave the folder, however encoded", async () => {
    for (const path of [
      "/console/../secret.txt",
      "/console/%2e%2e/secret.txt",
      "/console/..%2fsecret.txt",
      "/console/assets/..%2f..%2fsecret.txt",
      "/console/%00.js",
    ]) {
      const res = await raw(builtUrl, path);
      expect(res.body, path).not.toContain("outside");
      expect([404, 418], path).toContain(res.status);
    }
    expect((await raw(builtUrl, "/console/assets/missing.js")).status).toBe(404);
  });

  it("takes only its own paths and only GET and HEAD", async () => {
    expect((await raw(builtUrl, "/consoles")).status).toBe(418);
    expect((await raw(builtUrl, "/")).status).toBe(418);
    const post = await raw(builtUrl, "/console/", "POST");
    expect([post.status, post.headers["allow"]]).toEqual([405, "GET, HEAD"]);
  });

  it("answers 404 naming `npm run build` when the console was never built", async () => {
    const res = await raw(unbuiltUrl, "/console/");
    expect(res.status).toBe(404);
    expect(res.body).toContain("npm run build");
    expect(res.headers["x-frame-options"]).toBe("DENY");
  });

  it("finds dist/console from the package root, and the service serves it at /console", async () => {
    expect(defaultConsoleDir()).toBe(join(new URL("../..", import.meta.url).pathname, "dist", "console"));
    const t = await startTestServer({ backend: "memory" });
    try {
      const res = await fetch(`${t.url}/console/`);
      // Built or not (the e2e test builds it), the service's answer is the console's.
      expect([200, 404]).toContain(res.status);
      expect(res.headers.get("content-security-policy")).toBe(consoleHeaders["content-security-policy"]);
    } finally {
      await t.close();
    }
  });
});
