import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { OrganizationClientSchema, type OrganizationClient } from "../../gen/m2mauth/v1/clients_pb.js";
import type { Caller } from "../../src/clients/caller.js";
import { createClientService, type ClientService } from "../../src/clients/client-service.js";
import { createPageTokens } from "../../src/clients/page-token.js";
import { createSecretHasher, type SecretHasher } from "../../src/clients/secret-hasher.js";
import { FailedPreconditionError, InvalidArgumentError, RequestIdReusedError, UnavailableError } from "../../src/errors.js";
import type { ClientStore, Store } from "../../src/store/client-store.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createMemoryStore } from "../../src/store/memory-store.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";

// "A create answered 503 while Redis hung was in fact applied: the caller never saw the secret,
// and its retry makes a duplicate." With a request id, the retry gets the first answer instead.

const input = (name = "svc"): OrganizationClient => create(OrganizationClientSchema, { name, scopes: ["read"], audience: ["api"] });
const admin: Caller = { organizationId: undefined, scopes: [], clientId: "m2madmin_one" };

let raw: Redis;
beforeAll(() => {
  raw = new Redis(testRedisUrl());
});
afterAll(async () => {
  await raw.quit();
});

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function service(clients: ClientStore, options: { hasher?: SecretHasher; keyEncryptionKey?: Uint8Array } = {}): ClientService {
  const hasher = options.hasher ?? createSecretHasher({ key: new Uint8Array(32).fill(1) });
  return createClientService({
    store: clients,
    hasher,
    pageTokens: createPageTokens({ key: hasher.derive("p") }),
    issuer: "https://issuer.test",
    keyEncryptionKey: options.keyEncryptionKey,
  });
}

function redisStore(prefix = uniquePrefix()): Store {
  const store = createRedisStore({ url: testRedisUrl(), keyPrefix: prefix });
  opened.push(store);
  return store;
}

/** answerLost is a store whose creates are applied but whose answers never arrive, as when Redis hangs after the script ran. */
function answerLost(clients: ClientStore): ClientStore & { lost: number } {
  const wrapped = Object.create(clients) as ClientStore & { lost: number };
  wrapped.lost = 0;
  wrapped.createOnce = async (record, request) => {
    const result = await clients.createOnce(record, request);
    wrapped.lost++;
    throw new UnavailableError(undefined, { cause: new Error(`the answer was lost (${JSON.stringify(result.created)})`) });
  };
  return wrapped;
}

describe.each(["redis", "memory"] as const)("idempotent create (%s store)", (backend) => {
  const makeStore = () => {
    if (backend === "redis") return redisStore();
    const store = createMemoryStore();
    opened.push(store);
    return store;
  };

  it("replays a create whose answer was lost: the same client and secret, and exactly one client", async () => {
    const store = makeStore();
    const lossy = answerLost(store.clients);
    const requestId = randomUUID();
    await expect(service(lossy).create(admin, "org_lost", input(), requestId)).rejects.toBeInstanceOf(UnavailableError);
    expect(lossy.lost).toBe(1);
    const applied = await store.clients.list("org_lost", { limit: 10 });
    expect(applied.total).toBe(1); // it was applied, and the caller does not know its secret

    const clients = service(store.clients);
    const retry = await clients.create(admin, "org_lost", input(), requestId);
    expect(retry.replayed).toBe(true);
    expect(retry.client.clientId).toBe(applied.records[0]!.client!.clientId);
    const stored = (await store.clients.get(retry.client.clientId))!;
    const hasher = createSecretHasher({ key: new Uint8Array(32).fill(1) });
    expect(Buffer.from(stored.secretHashes[0]!.hash)).toEqual(Buffer.from(hasher.hash(retry.plainSecret)));
    expect(retry.client.secrets[0]!.secretSuffix).toBe(retry.plainSecret.slice(-4));

    const again = await clients.create(admin, "org_lost", input(), requestId);
    expect(again).toEqual(retry);
    expect((await store.clients.list("org_lost", { limit: 10 })).total).toBe(1);
    // Without a request id, a create is a create.
    await clients.create(admin, "org_lost", input());
    expect((await store.clients.list("org_lost", { limit: 10 })).total).toBe(2);
  });

  it("refuses the same request id with a different request; another caller's same id is its own", async () => {
    const store = makeStore();
    const clients = service(store.clients);
    const requestId = randomUUID();
    const first = await clients.create(admin, "org_reuse", input("one"), requestId);
    expect(first.replayed).toBe(false);
    const reused = await clients.create(admin, "org_reuse", input("two"), requestId).catch((e: unknown) => e);
    expect(reused).toBeInstanceOf(RequestIdReusedError);
    expect(reused).toMatchObject({ code: "invalid_argument", field: "request_id", reason: "REQUEST_ID_REUSED" });
    const other = await clients.create({ ...admin, clientId: "m2morg_someoneelse" }, "org_reuse", input("one"), requestId);
    expect(other.replayed).toBe(false);
    expect(other.client.clientId).not.toBe(first.client.clientId);
    // The same id in another organization is another request.
    expect((await clients.create(admin, "org_reuse2", input("one"), requestId)).replayed).toBe(false);
    expect((await store.clients.list("org_reuse", { limit: 10 })).total).toBe(2);
  });

  it("makes one client of concurrent attempts with one request id, and gives each the same answer", async () => {
    const store = makeStore();
    const clients = service(store.clients);
    const requestId = randomUUID();
    const answers = await Promise.all(Array.from({ length: 6 }, () => clients.create(admin, "org_race", input(), requestId)));
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    for (const answer of answers) {
      expect(answer.client.clientId).toBe(answers[0]!.client.clientId);
      expect(answer.plainSecret).toBe(answers[0]!.plainSecret);
    }
    expect((await store.clients.list("org_race", { limit: 10 })).total).toBe(1);
  });

  it("refuses a malformed request id before anything is written", async () => {
    const store = makeStore();
    const clients = service(store.clients);
    for (const bad of ["has space", "x".repeat(129), "a,b", "ünï"]) {
      const err = await clients.create(admin, "org_bad", input(), bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).field).toBe("request_id");
    }
    expect((await store.clients.list("org_bad", { limit: 10 })).total).toBe(0);
  });
});

describe("idempotent create: the kept secret", () => {
  it("is stored only encrypted, for an hour, and only a service with the same key encryption key opens it", async () => {
    const prefix = uniquePrefix();
    const store = redisStore(prefix);
    const kek = new Uint8Array(randomBytes(32));
    const clients = service(store.clients, { keyEncryptionKey: kek });
    const requestId = randomUUID();
    const { client, plainSecret } = await clients.create(admin, "org_sealed", input(), requestId);
    const keys = await raw.keys(`${prefix}*create-request*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toBe(createKeyLayout(prefix).createRequest("org_sealed", keys[0]!.split(":create-request:")[1]!));
    const kept = (await raw.getBuffer(keys[0]!))!;
    expect(kept.includes(Buffer.from(plainSecret))).toBe(false);
    expect(kept.includes(Buffer.from(plainSecret.slice(6, 20)))).toBe(false);
    expect(kept.includes(Buffer.from(requestId))).toBe(false); // the key is a hash of caller and id
    const ttl = await raw.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(3_590_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);

    // The same secret-hash key but another (or no) key encryption key: the client exists, its
    // secret cannot be shown again, and no second client is made.
    const err = await service(store.clients)
      .create(admin, "org_sealed", input(), requestId)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    expect((err as Error).message).toContain(client.clientId);
    expect((await service(store.clients, { keyEncryptionKey: new Uint8Array(kek) }).create(admin, "org_sealed", input(), requestId)).plainSecret).toBe(
      plainSecret,
    );
    expect((await store.clients.list("org_sealed", { limit: 10 })).total).toBe(1);
  });

  it("is encrypted under a key derived from the secret-hash key when no key encryption key is set", async () => {
    const store = redisStore();
    const requestId = randomUUID();
    const hasher = createSecretHasher({ key: new Uint8Array(32).fill(7) });
    const first = await service(store.clients, { hasher }).create(admin, "org_derived", input(), requestId);
    const other = createSecretHasher({ key: new Uint8Array(32).fill(8) });
    await expect(service(store.clients, { hasher: other }).create(admin, "org_derived", input(), requestId)).rejects.toBeInstanceOf(FailedPreconditionError);
    expect((await service(store.clients, { hasher }).create(admin, "org_derived", input(), requestId)).plainSecret).toBe(first.plainSecret);
  });
});
