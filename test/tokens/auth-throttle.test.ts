import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { TokenService } from "../../gen/m2mauth/v1/tokens_pb.js";
import type { AuditEvent, AuditLog } from "../../src/audit.js";
import { createSecretHasher } from "../../src/clients/secret-hasher.js";
import { InvalidClientError, UnavailableError, type M2MError } from "../../src/errors.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { throttleAuthentication } from "../../src/tokens/auth-throttle.js";
import { createClientAuthenticator } from "../../src/tokens/authenticate.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { fakeClock, type FakeClock } from "../interceptor/fake-clock.js";
import { managementApi, type RegisteredClient } from "../support/management-api.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { getToken, startTestServer, type TestServer } from "../support/server.js";

// Failed client authentication, throttled per client id and per source address (tokens/auth-throttle.ts),
// through the real endpoints on real Redis; addresses are named in X-Forwarded-For from a trusted
// loopback proxy, and time moves by a fake clock.

const limits = { windowSeconds: 60, perClientAddress: 2, perClient: 5, perAddress: 3 };

function collectingAudit(): AuditLog & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: (event) => void events.push(event) };
}

interface Answer {
  status: number;
  retryAfter: string | null;
  error: string;
  requestId: string | null;
}

async function post(t: TestServer, path: string, address: string, form: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": address },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  const error = text === "" ? "" : ((JSON.parse(text) as { error?: string }).error ?? "");
  return { status: res.status, retryAfter: res.headers.get("retry-after"), error, requestId: res.headers.get("x-request-id") };
}

const token = (t: TestServer, address: string, clientId: string, clientSecret: string) =>
  post(t, "/oauth/token", address, { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret });

let clock: FakeClock;
let audit: ReturnType<typeof collectingAudit>;
let t: TestServer;
let client: RegisteredClient;
let address = 0;
const nextAddress = () => `10.0.${Math.floor(++address / 250)}.${address % 250}`;

beforeAll(async () => {
  clock = fakeClock(Date.now());
  audit = collectingAudit();
  t = await startTestServer({ now: clock.now, authFailures: limits, audit, trustedProxies: ["127.0.0.1"] });
  client = await managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret)).register("org_throttle");
});
afterAll(() => t.close());
afterEach(() => {
  // Every test starts after the last one's blocks ended.
  clock.advance(limits.windowSeconds * 1000);
  audit.events.length = 0;
});

describe("failed client authentication limits", () => {
  it("60 wrong secrets for one id: 401 up to the limit, then 429 with Retry-After, the right secret refused too; after the window it works", async () => {
    const answers: Answer[] = [];
    // A fresh address each time: only the client id's limit is in play.
    for (let i = 0; i < 60; i++) answers.push(await token(t, nextAddress(), client.id, `m2msk_wrong_${i}`));
    expect(answers.slice(0, 5).map((a) => [a.status, a.error])).toEqual(Array(5).fill([401, "invalid_client"]));
    for (const answer of answers.slice(5)) {
      expect([answer.status, answer.error]).toEqual([429, "temporarily_unavailable"]);
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(answer.retryAfter)).toBeLessThanOrEqual(60);
    }
    // Refused before the secret is looked at: the block cannot be used to test guesses.
    expect((await token(t, nextAddress(), client.id, client.secret)).status).toBe(429);
    clock.advance(59_000);
    const late = await token(t, nextAddress(), client.id, client.secret);
    expect([late.status, late.retryAfter]).toEqual([429, "1"]);
    clock.advance(1_000);
    expect((await token(t, nextAddress(), client.id, client.secret)).status).toBe(200);
  });

  it("refused attempts are not counted: a block ends one window after the last counted failure, however long they go on", async () => {
    for (let i = 0; i < 5; i++) expect((await token(t, nextAddress(), client.id, "m2msk_wrong")).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      expect((await token(t, nextAddress(), client.id, "m2msk_wrong")).status).toBe(429);
    }
    // 60 s after the five failures, though refused attempts went on until 10 s ago.
    clock.advance(10_000);
    expect((await token(t, nextAddress(), client.id, client.secret)).status).toBe(200);
  });

  it("limits one address across many client ids, below a client id's limit; other addresses are not affected", async () => {
    const attacker = nextAddress();
    const made = Array.from({ length: 10 }, (_, i) => `m2morg_madeup${i}`);
    const statuses = [];
    for (const id of made) statuses.push((await token(t, attacker, id, "m2msk_guess")).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
    // The address is blocked, whatever it sends; the client id it tried is not.
    expect((await token(t, attacker, client.id, client.secret)).status).toBe(429);
    expect((await token(t, nextAddress(), client.id, client.secret)).status).toBe(200);
  });

  it("blocks a client id failing from one address there only: the address's other clients, and the id from elsewhere, are served", async () => {
    // A shared egress address (a NAT) with one misconfigured client behind it.
    const nat = nextAddress();
    const other = await managementApi(t.url, await getToken(t.url, t.admin.clientId, t.admin.clientSecret)).register("org_throttle");
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await token(t, nat, client.id, "m2msk_wrong")).status);
    expect(statuses).toEqual([401, 401, 429]);
    expect((await token(t, nat, client.id, client.secret)).status).toBe(429);
    expect((await token(t, nat, other.id, other.secret)).status).toBe(200);
    expect((await token(t, nextAddress(), client.id, client.secret)).status).toBe(200);
  });

  it("throttles /oauth/introspect and /oauth/revoke alike, and IssueToken over gRPC with RESOURCE_EXHAUSTED and a RetryInfo", async () => {
    const from = nextAddress();
    const form = { client_id: client.id, client_secret: "m2msk_wrong", token: "x" };
    const statuses = [];
    for (const path of ["/oauth/introspect", "/oauth/revoke", "/oauth/introspect", "/oauth/revoke"]) statuses.push((await post(t, path, from, form)).status);
    // One client id from one address: the pair's limit (2).
    expect(statuses).toEqual([401, 401, 429, 429]);

    const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: t.url }));
    const rpcAddress = nextAddress();
    const codes: Code[] = [];
    let last: ConnectError | undefined;
    for (let i = 0; i < 4; i++) {
      try {
        await tokens.issueToken({ clientId: `m2morg_rpcmadeup${i}`, clientSecret: "m2msk_wrong" }, { headers: { "x-forwarded-for": rpcAddress } });
      } catch (err) {
        last = ConnectError.from(err);
        codes.push(last.code);
      }
    }
    expect(codes).toEqual([Code.Unauthenticated, Code.Unauthenticated, Code.Unauthenticated, Code.ResourceExhausted]);
    const [retry] = last?.findDetails(RetryInfoSchema) ?? [];
    expect(Number(retry?.retryDelay?.seconds)).toBeGreaterThanOrEqual(1);
    expect(Number(retry?.retryDelay?.seconds)).toBeLessThanOrEqual(60);
    await expect(
      tokens.introspectToken({ clientId: client.id, clientSecret: client.secret, token: "x" }, { headers: { "x-forwarded-for": rpcAddress } }),
    ).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it("audits each failed and refused attempt: who was tried (an id of ours as is, anything else hashed), from where, never the secret", async () => {
    const from = nextAddress();
    const first = await token(t, from, client.id, "m2msk_wrong_secret_value");
    await token(t, from, "pasted-secret-as-id-0123456789", "m2msk_wrong_secret_value");
    await token(t, from, t.admin.clientId, "m2msk_wrong_secret_value");
    const refused = await token(t, from, client.id, client.secret);
    expect(refused.status).toBe(429);
    expect(audit.events).toEqual([
      {
        action: "AuthenticateClient",
        outcome: "failure",
        actor: {},
        target: { clientId: client.id },
        code: "invalid_client",
        reason: "client authentication failed",
        requestId: first.requestId,
        sourceAddress: from,
      },
      expect.objectContaining({ outcome: "failure", target: { clientId: expect.stringMatching(/^sha256:[0-9a-f]{12}$/) as unknown }, sourceAddress: from }),
      expect.objectContaining({ outcome: "failure", target: { clientId: t.admin.clientId } }),
      {
        action: "AuthenticateClient",
        outcome: "refused",
        actor: {},
        target: { clientId: client.id },
        code: "resource_exhausted",
        reason: "too many failed client authentications",
        requestId: refused.requestId,
        sourceAddress: from,
      },
    ]);
    const text = JSON.stringify(audit.events);
    expect(text).not.toContain("m2msk_wrong_secret_value");
    expect(text).not.toContain(client.secret);
    expect(text).not.toContain("pasted-secret");
  });
});

describe("failed client authentication limits across instances", () => {
  it("are shared by two servers on one Redis: each learns the block with its own next failure (one extra guess per process)", async () => {
    const prefix = uniquePrefix();
    const stores = [createRedisStore({ url: testRedisUrl(), keyPrefix: prefix }), createRedisStore({ url: testRedisUrl(), keyPrefix: prefix })];
    const one = { authFailures: { windowSeconds: 60, perClientAddress: 4, perClient: 5, perAddress: 0 }, admin: true };
    const a = await startTestServer({ ...one, store: stores[0] });
    const b = await startTestServer({ ...one, store: stores[1] });
    try {
      const owner = await managementApi(a.url, await getToken(a.url, a.admin.clientId, a.admin.clientSecret)).register("org_shared");
      const fail = async (s: TestServer) => (await token(s, "", owner.id, "m2msk_wrong")).status;
      expect([await fail(a), await fail(a), await fail(a)]).toEqual([401, 401, 401]);
      // b's failures count with a's: the fourth (the pair's limit: every request comes from 127.0.0.1) blocks the id there at once.
      expect([await fail(b), await fail(b), await fail(b)]).toEqual([401, 429, 429]);
      expect((await token(b, "", owner.id, owner.secret)).status).toBe(429);
      // a has not failed since: its next failure is checked, returns the shared count, and blocks.
      expect([await fail(a), await fail(a)]).toEqual([401, 429]);
      expect((await token(a, "", owner.id, owner.secret)).status).toBe(429);
    } finally {
      await a.close();
      await b.close();
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});

describe("throttleAuthentication", () => {
  const origin = (sourceAddress: string) => ({ requestId: "r", sourceAddress });
  const authenticator = () =>
    createClientAuthenticator({ store: createMemoryStore().clients, hasher: createSecretHasher({ key: new Uint8Array(32).fill(3) }) });

  it("still refuses a failure it could not count (the store down), and says so", async () => {
    const down = createMemoryStore();
    await down.close();
    const errors: unknown[] = [];
    const throttled = throttleAuthentication(authenticator(), {
      limiter: down.failures,
      limits,
      audit: collectingAudit(),
      onStoreError: (err) => errors.push(err),
    });
    await expect(throttled.authenticate("m2morg_nobody", "m2msk_x", origin("10.1.0.1"))).rejects.toBeInstanceOf(InvalidClientError);
    expect(errors).toEqual([expect.any(UnavailableError)]);
  });

  it("keeps at most maxBlocks blocks of each kind, so made-up ids cannot fill its memory", async () => {
    const clock = fakeClock(1_700_000_000_000);
    const store = createMemoryStore();
    const throttled = throttleAuthentication(authenticator(), {
      limiter: store.failures,
      limits: { windowSeconds: 60, perClientAddress: 1, perClient: 2, perAddress: 0 },
      audit: collectingAudit(),
      now: clock.now,
      maxBlocks: 2,
    });
    const attempt = (id: string) => throttled.authenticate(id, "m2msk_x", origin("10.1.0.2")).catch((err: unknown) => (err as M2MError).code);
    for (const id of ["m2morg_a", "m2morg_b", "m2morg_c"]) expect(await attempt(id)).toBe("invalid_client");
    // a's block was the oldest: pushed out (one more guess for it here); b and c are still blocked.
    expect([await attempt("m2morg_b"), await attempt("m2morg_c")]).toEqual(["resource_exhausted", "resource_exhausted"]);
    expect(await attempt("m2morg_a")).toBe("invalid_client");
    expect(() =>
      throttleAuthentication(authenticator(), {
        limiter: store.failures,
        limits: { windowSeconds: 60, perClientAddress: 5, perClient: 5, perAddress: 5 },
        audit: collectingAudit(),
      }),
    ).toThrow(/perClientAddress must be set and below perClient/);
  });
});
