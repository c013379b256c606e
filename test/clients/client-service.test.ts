import { toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClientRecordSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { createClientService } from "../../src/clients/client-service.js";
import { createPageTokens } from "../../src/clients/page-token.js";
import { createSecretHasher } from "../../src/clients/secret-hasher.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";

const input = { name: "svc", description: "", customClaims: [], scopes: ["read"], audience: ["api"], expiry: 0 } as never;

describe("client service", () => {
  it("keeps only a keyed hash of the secret, which carries 256 random bits", async () => {
    const store = createRedisStore({ url: testRedisUrl(), keyPrefix: uniquePrefix() });
    try {
      const hasher = createSecretHasher({ key: new Uint8Array(32).fill(1) });
      const clients = createClientService({
        store: store.clients,
        hasher,
        pageTokens: createPageTokens({ key: hasher.derive("p") }),
        issuer: "https://issuer.test",
      });
      const admin = { organizationId: undefined, scopes: [] };
      const { client, plainSecret } = await clients.create(admin, "org_1", input);
      // m2msk_ + base64url of 32 random bytes.
      expect(plainSecret).toMatch(/^m2msk_[A-Za-z0-9_-]{43}$/);
      expect(client.expiry).toBe(3600);
      const record = (await store.clients.get(client.clientId))!;
      const bytes = Buffer.from(toBinary(ClientRecordSchema, record));
      expect(bytes.includes(Buffer.from(plainSecret))).toBe(false);
      expect(bytes.includes(Buffer.from(plainSecret.slice(6, 20)))).toBe(false);
      expect(Buffer.from(record.secretHashes[0]!.hash)).toEqual(Buffer.from(hasher.hash(plainSecret)));
      // A different key gives a different hash: a leaked record alone cannot be checked offline.
      expect(Buffer.from(createSecretHasher({ key: new Uint8Array(32).fill(2) }).hash(plainSecret))).not.toEqual(Buffer.from(record.secretHashes[0]!.hash));
      const second = await clients.create(admin, "org_1", input);
      expect(second.plainSecret).not.toBe(plainSecret);
      expect(second.client.clientId).not.toBe(client.clientId);
    } finally {
      await store.close();
    }
  });

  it("refuses a tampered or foreign page token", async () => {
    const tokens = createPageTokens({ key: new Uint8Array(32).fill(3) });
    const sealed = tokens.seal("org_1", "000001700000000:m2morg_x");
    expect(tokens.open("org_1", sealed)).toBe("000001700000000:m2morg_x");
    expect(() => tokens.open("org_2", sealed)).toThrow(InvalidArgumentError);
    const [body, mac] = sealed.split(".");
    const edited = `${Buffer.from("000001800000000:m2morg_x").toString("base64url")}.${mac}`;
    expect(() => tokens.open("org_1", edited)).toThrow(/page_token/);
    expect(() => tokens.open("org_1", `${body}`)).toThrow(/page_token/);
    expect(() => tokens.open("org_1", "garbage")).toThrow(/page_token/);
    // Edits in base64's spare bits decode to the same bytes; they are refused all the same.
    for (const c of ["A", "B", "C", "D"]) {
      const edited = sealed.slice(0, -1) + c;
      if (edited !== sealed) expect(() => tokens.open("org_1", edited)).toThrow(/page_token/);
    }
  });

  it("names the option a developer left out", () => {
    expect(() => createSecretHasher({ key: new Uint8Array(8) })).toThrow(TypeError);
    expect(() => createClientService({} as never)).toThrow(/options.store/);
    const hasher = createSecretHasher({ key: new Uint8Array(32).fill(1) });
    const without = { store: {}, hasher, pageTokens: createPageTokens({ key: hasher.derive("p") }) };
    expect(() => createClientService(without as never)).toThrow(/options.issuer/);
  });

  it("compares a hash against every stored one and reports the match", () => {
    const hasher = createSecretHasher({ key: new Uint8Array(32).fill(4) });
    const a = hasher.hash("a");
    const b = hasher.hash("b");
    expect(hasher.matches(b, [a, b])).toBe(1);
    expect(hasher.matches(hasher.hash("c"), [a, b])).toBe(-1);
    expect(hasher.matches(a, [new Uint8Array(3)])).toBe(-1);
  });
});
