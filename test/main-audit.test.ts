import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "./support/redis-process.js";
import { testRedisUrl, uniquePrefix } from "./support/redis.js";
import { killAll, send, spawnService, tokenRequest } from "./support/service-process.js";

// M2M_AUDIT_LOG as an operator sets it: two workers append their events to one file, each line
// whole, and the last events are in the file once the process has stopped.

const ADMIN_ID = "audit-admin";
const ADMIN_SECRET = "q1w2e3r4t5y6u7i8o9p0-asdfghjklzxcvbnmQWERTYU";
const children: ChildProcess[] = [];
afterAll(() => killAll(children));

describe("M2M_AUDIT_LOG", () => {
  it("gets every worker's events appended, whole lines after what the file held, flushed on SIGTERM", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "m2m-audit-")), "audit.log");
    writeFileSync(path, '{"kept":"an older line"}\n');
    const env = {
      REDIS_URL: testRedisUrl(),
      M2M_KEY_PREFIX: uniquePrefix(),
      M2M_WORKERS: "2",
      M2M_AUDIT_LOG: path,
      M2M_ADMIN_CLIENT_ID: ADMIN_ID,
      M2M_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
    };
    const service = spawnService(env, await freePort(), children);
    const started = await service.waitFor('"started workers"', (l) => l.msg === "started workers", 25_000);
    const workers = started["workerPids"] as number[];
    const token = (JSON.parse((await tokenRequest(service.port, ADMIN_ID, ADMIN_SECRET)).body) as { access_token: string }).access_token;
    // Fresh connections are handed to the workers in turn: both record events.
    const count = 20;
    const replies = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        send(service.port, `/api/v1/organizations/org_${i % 4}/clients`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-request-id": `audit-${i}` },
          body: JSON.stringify({ name: `client ${i}`, scopes: ["read:x"], audience: ["api.example.com"] }),
        }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(count).fill(201));
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);

    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed[0]).toEqual({ kept: "an older line" });
    const events = parsed.slice(1);
    expect(events).toHaveLength(count);
    for (const event of events)
      expect(event).toMatchObject({
        audit: true,
        action: "CreateOrganizationClient",
        outcome: "success",
        actor: { clientId: ADMIN_ID },
        sourceAddress: "127.0.0.1",
      });
    expect(new Set(events.map((e) => e["requestId"]))).toEqual(new Set(Array.from({ length: count }, (_, i) => `audit-${i}`)));
    expect(new Set(events.map((e) => e["pid"]))).toEqual(new Set(workers));
    expect(readFileSync(path, "utf8")).not.toContain(ADMIN_SECRET);
    expect(readFileSync(path, "utf8")).not.toContain(token);
  }, 60_000);

  it("stops the start, naming the variable, when the file cannot be opened for append", async () => {
    const dir = mkdtempSync(join(tmpdir(), "m2m-audit-"));
    const service = spawnService({ M2M_AUDIT_LOG: dir }, await freePort(), children);
    expect(await service.exited).toBe(2);
    expect(service.stderr()).toContain("M2M_AUDIT_LOG");
    expect(service.stderr()).toContain("cannot be opened for append");
  });
});
