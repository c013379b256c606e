import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleHeaders } from "../../src/http/console-routes.js";
import type { RestBody } from "../support/management-api.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// The admin console in Debian's headless Chromium against a real server, built fresh from
// src/console into a temp folder (never a stale dist/, which `npm pack` may be rebuilding meanwhile).

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const shots = join(root, "test", "console", "__screenshots__");
const org = "org_console";
let work: string;
let t: TestServer;
let browser: Browser;
let page: Page;
// The server's clock runs ahead on demand: a rotation waits for verifiers to have seen the next key.
let skewMs = 0;
let clientId = "";
let firstSecret = "";
// What the page reports as broken: a script error, or anything the Content-Security-Policy blocked.
const pageErrors: string[] = [];

const launch = () =>
  chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });

async function tokenStatus(id: string, secret: string): Promise<number> {
  const res = await fetch(`${t.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: id, client_secret: secret }),
  });
  return res.status;
}

async function signIn(p: Page, id: string, secret: string): Promise<void> {
  await p.getByLabel("Client ID").fill(id);
  await p.getByLabel("Client secret").fill(secret);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("button", { name: "Sign out" }).waitFor();
}

async function openOrganization(p: Page, id: string): Promise<void> {
  await p.getByLabel("Organization ID").fill(id);
  await p.getByRole("button", { name: "Open", exact: true }).click();
  await p.getByRole("heading", { name: "Clients" }).waitFor();
}

// Page-side expressions as strings: this project's types are node's, not the DOM's.
const inPage = <T>(p: Page, expression: string): Promise<T> => p.evaluate<T>(expression);
const noHorizontalScroll = (p: Page) => inPage<number>(p, "document.scrollingElement.scrollWidth");

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "m2m-console-"));
  mkdirSync(shots, { recursive: true });
  await run(process.execPath, [join(root, "node_modules/vite/bin/vite.js"), "build", "-c", "src/console/vite.config.ts", "--outDir", work, "--emptyOutDir"], {
    cwd: root,
  });
  t = await startTestServer({ backend: "memory", now: () => Date.now() + skewMs, console: { consoleDir: work } });
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: t.url });
  page = await context.newPage();
  // A refused call (a wrong secret, an expired token) is logged as a failed resource: expected here.
  page.on("console", (m) => void (m.type() === "error" && !m.text().startsWith("Failed to load resource") && pageErrors.push(m.text())));
  page.on("pageerror", (e) => void pageErrors.push(e.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("admin console", { timeout: 60_000 }, () => {
  it("is served with its security headers, no inline script or style, and signs in with the keyboard alone", async () => {
    const res = await page.goto(`${t.url}/console/`);
    expect(res?.status()).toBe(200);
    const headers = res!.headers();
    for (const [name, value] of Object.entries(consoleHeaders)) expect(headers[name], name).toBe(value);
    const html = await res!.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=/);
    // A refused sign-in says why, in the service's words.
    await page.getByLabel("Client ID").fill(t.admin.clientId);
    await page.getByLabel("Client secret").fill("wrong-secret");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Sign-in refused" }).waitFor();
    // With the keyboard alone: type, Tab, type, Enter.
    await page.reload();
    await page.getByLabel("Client ID").waitFor();
    expect(await inPage<string>(page, "document.activeElement.id")).toBe("sign-in-id");
    await page.keyboard.type(t.admin.clientId);
    await page.keyboard.press("Tab");
    await page.keyboard.type(t.admin.clientSecret);
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  });

  it("shows the API's field errors beside the fields", async () => {
    await openOrganization(page, org);
    await page.getByRole("button", { name: "New client" }).click();
    await page.getByLabel("Name").fill("Bad scopes");
    await page.getByLabel("Scopes").fill('deploy "quoted"');
    await page.getByLabel("Audience").fill("deployment-api.acmecorp.com");
    await page.getByRole("button", { name: "Create client" }).click();
    await expect.poll(() => page.locator("#f-scopes-error").textContent()).toContain("RFC 6749");
    expect(await page.getByLabel("Scopes").getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("Scopes").fill("deploy");
    await page.getByLabel("Token lifetime (seconds)").fill("ten");
    await page.getByRole("button", { name: "Create client" }).click();
    await expect.poll(() => page.locator("#f-expiry-error").textContent()).toBe("a whole number of seconds");
    await page.getByLabel("Token lifetime (seconds)").fill("10");
    await page.getByRole("button", { name: "Create client" }).click();
    await expect.poll(() => page.locator("#f-expiry-error").textContent()).toBe("must be 60 to 86400 seconds");
    expect(await page.locator("#f-scopes-error").count()).toBe(0);
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  it("creates a client and shows its secret once, which works at /oauth/token", async () => {
    await page.getByRole("button", { name: "New client" }).click();
    await page.getByLabel("Name").fill("Deployment Service");
    await page.getByLabel("Description").fill("Deploys to production");
    await page.getByLabel("Scopes").fill("deploy:applications read:deployments");
    await page.getByLabel("Audience").fill("deployment-api.acmecorp.com");
    await page.getByLabel("Custom claims").fill("environment=production_us");
    await page.getByRole("button", { name: "Create client" }).click();
    await page.getByText("You will not see this secret again").waitFor();
    // Focus moves to the panel, so a keyboard or screen-reader user lands on the secret.
    expect(await inPage<string>(page, "document.activeElement.className")).toBe("secret-panel");
    firstSecret = await page.getByLabel("Client secret").inputValue();
    clientId = (await page.locator(".secret-panel code").textContent()) ?? "";
    expect(firstSecret).toMatch(/^m2msk_/);
    expect(clientId).toMatch(/^m2morg_/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    expect(await inPage<string>(page, "navigator.clipboard.readText()")).toBe(firstSecret);
    await page.screenshot({ path: join(shots, "secret-once.png"), fullPage: true });
    expect(await tokenStatus(clientId, firstSecret)).toBe(200);
    await page.getByRole("button", { name: "Dismiss" }).click();
    expect(await page.getByText("You will not see this secret again").count()).toBe(0);
    expect(await page.content()).not.toContain(firstSecret);
  });

  it("keeps nothing after a reload: signed out, no storage, no cookie, the secret gone", async () => {
    const stored = await inPage<unknown[]>(page, "[localStorage.length, sessionStorage.length, document.cookie]");
    expect(stored).toEqual([0, 0, ""]);
    expect(await page.context().cookies()).toEqual([]);
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await signIn(page, t.admin.clientId, t.admin.clientSecret);
    await openOrganization(page, org);
    await page.getByRole("button", { name: "Deployment Service" }).click();
    await page.getByRole("heading", { name: "Secrets" }).waitFor();
    expect(await page.getByText("You will not see this secret again").count()).toBe(0);
    expect(await page.content()).not.toContain(firstSecret);
    expect(await page.getByText(`…${firstSecret.slice(-4)}`).count()).toBe(1);
    await page.screenshot({ path: join(shots, "client.png"), fullPage: true });
    if (process.env["M2M_UPDATE_DOCS_SCREENSHOT"] === "1") await page.screenshot({ path: join(root, "docs", "console.png") });
  });

  it("fits 360 px without horizontal scrolling", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    expect(await noHorizontalScroll(page)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(shots, "client-360.png"), fullPage: true });
    // Readable in the dark too: the colours follow prefers-color-scheme.
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await inPage<string>(page, "getComputedStyle(document.body).backgroundColor")).toBe("rgb(13, 17, 23)");
    await page.screenshot({ path: join(shots, "client-360-dark.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
    await page.getByRole("button", { name: "← All clients" }).click();
    await page.getByRole("heading", { name: "Clients" }).waitFor();
    expect(await noHorizontalScroll(page)).toBeLessThanOrEqual(360);
    await page.getByRole("button", { name: "Deployment Service" }).click();
    await page.getByRole("heading", { name: "Secrets" }).waitFor();
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it("rotates a secret: adds one (shown once), deletes the old one after confirmation", async () => {
    await page.getByRole("button", { name: "Add secret" }).click();
    await page.getByText("You will not see this secret again").waitFor();
    const second = await page.getByLabel("Client secret").inputValue();
    expect(second).not.toBe(firstSecret);
    expect(await tokenStatus(clientId, second)).toBe(200);
    await page.getByRole("button", { name: "Dismiss" }).click();
    const remove = page.getByRole("button", { name: `Delete secret …${firstSecret.slice(-4)}` });
    // Escape cancels the dialog and changes nothing.
    await remove.click();
    await page.getByRole("dialog").waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    expect(await tokenStatus(clientId, firstSecret)).toBe(200);
    await remove.click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete secret" }).click();
    await remove.waitFor({ state: "detached" });
    expect(await tokenStatus(clientId, firstSecret)).toBe(401);
    expect(await tokenStatus(clientId, second)).toBe(200);
  });

  it("edits a client with an update mask of what changed", async () => {
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Name").fill("Deployment Service v2");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("heading", { name: "Deployment Service v2" }).waitFor();
    const admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const res = await fetch(`${t.url}/api/v1/organizations/${org}/clients/${clientId}`, { headers: { authorization: `Bearer ${admin}` } });
    const body = (await res.json()) as RestBody;
    expect([body.client.name, body.client.description, body.client.scopes]).toEqual([
      "Deployment Service v2",
      "Deploys to production",
      ["deploy:applications", "read:deployments"],
    ]);
  });

  it("deletes the client after confirmation", async () => {
    await page.getByRole("button", { name: "Delete client" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete client" }).click();
    await page.getByRole("heading", { name: "Clients" }).waitFor();
    expect(await page.getByRole("button", { name: "Deployment Service v2" }).count()).toBe(0);
    expect(await tokenStatus(clientId, "anything")).toBe(401);
  });

  it("pages through an organization's clients and filters the page shown", async () => {
    const admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    for (let i = 1; i <= 23; i++) {
      const res = await fetch(`${t.url}/api/v1/organizations/org_paged/clients`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `Service ${String(i).padStart(2, "0")}`, audience: ["api.example"] }),
      });
      expect(res.status).toBe(201);
    }
    await openOrganization(page, "org_paged");
    const cards = page.getByRole("list", { name: "Clients on this page" }).getByRole("button");
    await page.getByText("Page 1 · 23 clients").waitFor();
    expect(await cards.count()).toBe(20);
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("Page 2 · 23 clients").waitFor();
    expect(await cards.allTextContents()).toEqual(["Service 21", "Service 22", "Service 23"]);
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous" }).click();
    await page.getByText("Page 1 · 23 clients").waitFor();
    await page.getByLabel("Filter this page by name or ID").fill("service 07");
    expect(await cards.allTextContents()).toEqual(["Service 07"]);
    // The organization opened before is a quick pick for this session.
    await page.getByRole("button", { name: org, exact: true }).click();
    await page.getByText("Page 1 · 0 clients").waitFor();
  });

  it("lists and rotates the signing keys", async () => {
    await page.getByRole("button", { name: "Signing keys" }).click();
    await page.getByText("the old key stays in the JWKS").waitFor();
    await page.locator(".card", { hasText: "current" }).first().waitFor();
    const before = await page.locator(".card", { hasText: "next" }).locator("strong").textContent();
    // Past the JWKS max-age since the next key was published, so the rotation breaks no verifier.
    skewMs = 10 * 60_000;
    await page.getByRole("button", { name: "Rotate signing key" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Rotate" }).click();
    await page.getByText(`Rotated: ${before ?? ""} now signs new tokens.`).waitFor();
    expect(await page.locator(".card", { hasText: "current" }).locator("strong").textContent()).toBe(before);
  });

  it("shows an organization's admin its own organization only, and the API refuses another", async () => {
    const admin = await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
    const create = (organization: string, body: unknown) =>
      fetch(`${t.url}/api/v1/organizations/${organization}/clients`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (res) => (await res.json()) as RestBody);
    const orgAdmin = await create("org_a", { name: "org A admin", scopes: ["m2m:clients:read", "m2m:clients:write"], audience: [t.issuer] });
    await create("org_a", { name: "A's service", audience: ["api.a.example"] });
    await create("org_b", { name: "B's secret service", audience: ["api.b.example"] });

    const other = await browser.newPage();
    try {
      await other.goto(`${t.url}/console/`);
      await signIn(other, orgAdmin.client.client_id, orgAdmin.plain_secret);
      await other.getByRole("button", { name: "A's service" }).waitFor();
      expect(await other.getByLabel("Organization ID").count()).toBe(0);
      expect(await other.getByRole("button", { name: "Signing keys" }).count()).toBe(0);
      expect(await other.getByText("B's secret service").count()).toBe(0);
    } finally {
      await other.close();
    }
    // What a crafted request with its token gets, through the same Connect API the page uses.
    const token = await getToken(t.url, orgAdmin.client.client_id, orgAdmin.plain_secret);
    const res = await fetch(`${t.url}/m2mauth.v1.OrganizationClientService/ListOrganizationClients`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ organization_id: "org_b" }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe("permission_denied");
  });

  it("signs out by itself when the token expires, without a call to find out", async () => {
    // The page's own clock, faked: the timer set from the token's exp fires once time passes it.
    const timed = await browser.newPage();
    try {
      await timed.clock.install();
      await timed.goto(`${t.url}/console/`);
      await signIn(timed, t.admin.clientId, t.admin.clientSecret);
      await timed.clock.fastForward(60_000);
      expect(await timed.getByRole("button", { name: "Sign out" }).count()).toBe(1);
      await timed.clock.fastForward(3 * 3600_000);
      await timed.getByText("Your session expired: sign in again.").waitFor();
      expect(await timed.getByRole("button", { name: "Sign out" }).count()).toBe(0);
      await timed.getByRole("button", { name: "Sign in" }).waitFor();
    } finally {
      await timed.close();
    }
  });

  it("signs out when the service refuses the token", async () => {
    // The server's clock jumps past the token's expiry: the next call is refused as unauthenticated.
    skewMs = 3 * 3600_000;
    await page.getByRole("button", { name: "Clients", exact: true }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await page.getByText("Your session ended: sign in again.").waitFor();
  });

  it("ran without a script error or a Content-Security-Policy violation", () => {
    expect(pageErrors).toEqual([]);
  });
});
