// Builds the admin console (src/console) into dist/console, served by the service at /console
// (src/http/console-routes.ts). No Preact preset: Vite's own transformer (Oxc) compiles the JSX.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/console/",
  // No public/ folder: everything the page loads is built and hashed.
  publicDir: false,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../dist/console", import.meta.url)),
    emptyOutDir: true,
    // The strict Content-Security-Policy allows no inline script or style: never inline assets,
    // and no module-preload polyfill (it is an inline script).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: "warn",
});
