import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getToken, startTestServer, type TestServer } from "./support/server.js";

// The README's Metrics and Traces sections: their commands run as written against a real server,
// and every metric they name is one a scrape shows.

const run = promisify(execFile);
let t: TestServer;
let readme: string;
let scraped: string;

function block(marker: string): string {
  const section = new RegExp(`<!-- ${marker}:start -->([\\s\\S]*?)<!-- ${marker}:end -->`).exec(readme)?.[1] ?? "";
  const code = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error(`README: no bash block between the ${marker} markers`);
  return code;
}

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end);
}

beforeAll(async () => {
  t = await startTestServer({ backend: "memory" });
  readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  await getToken(t.url, t.admin.clientId, t.admin.clientSecret);
  await (await fetch(`${t.url}/.well-known/jwks.json`)).arrayBuffer();
  scraped = await (await fetch(`${t.url}/metrics`)).text();
});
afterAll(() => t.close());

describe("README: Metrics", () => {
  it("scrapes as written", async () => {
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", block("metrics")], { env: { ...process.env, M2M_URL: t.url } });
    expect(stdout).toContain('m2m_auth_tokens_issued_total{grant="client_credentials",alg="RS256"} 1');
  });

  it("names only metrics a scrape shows, in its table and its sample", () => {
    const text = section("Metrics");
    const named = new Set([...text.matchAll(/\b(m2m_auth_[a-z_]+[a-z])\b(?!_)/g)].map((m) => m[1] as string));
    expect(named.size).toBeGreaterThanOrEqual(9);
    for (const name of named) expect(scraped, name).toMatch(new RegExp(`^# TYPE ${name.replace(/_(sum|count|bucket)$/, "")} `, "m"));
    // Every metric the service has is in the table.
    for (const [, name] of scraped.matchAll(/^# TYPE (m2m_auth_\w+) /gm)) expect(text).toContain(`\`${name}\``);
  });

  it("documents METRICS_PORT and METRICS_CLIENT_LABELS in the configuration table", () => {
    for (const variable of ["METRICS_PORT", "METRICS_CLIENT_LABELS"]) expect(section("Configuration")).toContain(`| \`${variable}\``);
  });
});

describe("README: Traces", () => {
  it("sends a traceparent with a token request as written", async () => {
    const env = { ...process.env, M2M_URL: t.url, CLIENT_ID: t.admin.clientId, CLIENT_SECRET: t.admin.clientSecret };
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", block("traces")], { env });
    expect(stdout.trim()).toBe("Bearer");
  });
});
