import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpRequest, HttpResponse } from "./exchange.js";

/** ConsoleRoutes serves the admin console's static files under `/console`; false when the path is not its own. */
export type ConsoleRoutes = (req: HttpRequest, res: HttpResponse, url: URL) => Promise<boolean>;

/** ConsoleRoutesOptions configures createConsoleRoutes. */
export interface ConsoleRoutesOptions {
  /** dir holds the built console (index.html, assets/); default the package's dist/console. */
  dir?: string;
}

/** consolePath is where the console is served; its Vite build uses the same base (src/console/vite.config.ts). */
export const consolePath = "/console";

/**
 * consoleHeaders go on every console answer. The page loads only its own hashed files and talks
 * only to this origin (CSP Level 3: no inline script or style, no plugin, no framing); it is never
 * framed (clickjacking, RFC 7034) and sends no Referer that could carry a path to another site.
 */
export const consoleHeaders: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
});

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

// Vite names every built asset by its content's hash: a name never changes content, so a browser
// may keep it a year without asking (RFC 8246 immutable). index.html names them and is revalidated.
const assetCache = "public, max-age=31536000, immutable";

/**
 * packageRoot walks up from this module to the first folder with a package.json: the repository
 * under tsx (src/http/), the package after a build (dist/src/http/), installed or not.
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) return dirname(fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/** defaultConsoleDir is where `npm run build` puts the console: the package's dist/console. */
export function defaultConsoleDir(): string {
  return join(packageRoot(), "dist", "console");
}

function send(res: HttpResponse, req: HttpRequest, status: number, headers: Record<string, string>, body: Buffer | string): void {
  const payload = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...consoleHeaders, ...headers, "content-length": String(payload.length) });
  if (req.method === "HEAD") res.end();
  else res.end(payload);
}

function sendText(res: HttpResponse, req: HttpRequest, status: number, text: string, headers: Record<string, string> = {}): void {
  send(res, req, status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers }, `${text}\n`);
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/**
 * createConsoleRoutes serves `/console` and `/console/*` (GET and HEAD) from the built console:
 * its files by name, index.html for `/console`, `/console/` and any other path without a file
 * extension (the page's own views), 404 for a missing file or when the console was never built.
 * A path that would leave the folder, however encoded, is refused.
 */
export function createConsoleRoutes(options: ConsoleRoutesOptions = {}): ConsoleRoutes {
  const dir = resolve(options.dir ?? defaultConsoleDir());
  const index = join(dir, "index.html");
  return async (req, res, url) => {
    const path = url.pathname;
    if (path !== consolePath && !path.startsWith(`${consolePath}/`)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendText(res, req, 405, "the console is read with GET or HEAD", { allow: "GET, HEAD" });
      return true;
    }
    if (!(await isFile(index))) {
      sendText(res, req, 404, "the console is not built: run `npm run build`");
      return true;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(path.slice(consolePath.length + 1));
    } catch {
      sendText(res, req, 400, "malformed path");
      return true;
    }
    // The URL parser has already removed `..` segments; an encoded separator (%2F, %5C) has not,
    // so the decoded path is resolved and must stay inside the folder.
    const file = resolve(dir, rel);
    if (rel.includes("\0") || (file !== dir && !file.startsWith(dir + sep))) {
      sendText(res, req, 404, "not found");
      return true;
    }
    const ext = extname(file);
    if (ext === "" || file === dir) {
      // One of the page's own views: the page reads its state, never the path, so index.html.
      send(res, req, 200, { "content-type": contentTypes[".html"]!, "cache-control": "no-cache" }, await readFile(index));
      return true;
    }
    if (!(await isFile(file))) {
      sendText(res, req, 404, "not found");
      return true;
    }
    // Only assets/ holds hashed names; anything else (index.html by name) is revalidated.
    const cache = file.startsWith(join(dir, "assets") + sep) ? assetCache : "no-cache";
    send(res, req, 200, { "content-type": contentTypes[ext] ?? "application/octet-stream", "cache-control": cache }, await readFile(file));
    return true;
  };
}
