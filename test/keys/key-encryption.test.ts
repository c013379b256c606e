import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { SigningKeyRingSchema } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { KeyEncryptionError } from "../../src/keys/key-encryption.js";
import { createKeyRing, keyRingStateName, type KeyRing, type KeyRingOptions } from "../../src/keys/key-ring.js";
import { signJwt } from "../../src/keys/sign-jwt.js";
import { createKeyLayout } from "../../src/store/key-layout.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import type { Store } from "../../src/store/client-store.js";
import { testRedisUrl, uniquePrefix } from "../support/redis.js";
import { logged, recordingLogger } from "./logger.js";

// Private keys at rest: AES-256-GCM under M2M_KEY_ENCRYPTION_KEY, checked on the bytes in Redis.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function redisStore(keyPrefix: string): Store {
  const store = createRedisStore({ url: testRedisUrl(), keyPrefix });
  cleanups.push(() => store.close());
  return store;
}

async function open(store: Store, options: Partial<KeyRingOptions> = {}): Promise<KeyRing> {
  const ring = await createKeyRing({ state: store.state, alg: "ES256", ...options });
  cleanups.push(() => ring.close());
  return ring;
}

/** rawRing reads the ring's bytes from Redis itself, not through the store. */
async function rawRing(keyPrefix: string): Promise<Buffer> {
  const redis = new Redis(testRedisUrl());
  try {
    return (await redis.getBuffer(createKeyLayout(keyPrefix).state(keyRingStateName))) as Buffer;
  } finally {
    redis.disconnect();
  }
}

/** currentDer is the PKCS #8 DER of the current private key: what must not be stored in clear. */
function currentDer(ring: KeyRing): Buffer {
  return Buffer.from(ring.current().toRecord().privateKey);
}

async function signsVerifiably(ring: KeyRing): Promise<void> {
  const iat = Math.floor(Date.now() / 1000);
  const jwt = await signJwt(ring.current(), { iss: "i", sub: "s", aud: "a", iat, exp: iat + 60 });
  await jwtVerify(jwt, createLocalJWKSet(ring.jwks()), { issuer: "i", audience: "a" });
}

describe("signing keys at rest", () => {
  it("stores private keys encrypted when a key is set, and a restart with the same key signs with them", async () => {
    const prefix = uniquePrefix();
    const key = randomBytes(32);
    const logger = recordingLogger();
    const ring = await open(redisStore(prefix), { encryptionKey: key, logger });
    expect(logged(logger, "warn", /unencrypted/)).toBe(0);
    const raw = await rawRing(prefix);
    expect(raw.includes(currentDer(ring))).toBe(false);
    const stored = fromBinary(SigningKeyRingSchema, raw);
    expect(stored.keys.every((k) => k.privateKeyNonce.length === 12)).toBe(true);

    const restarted = await open(redisStore(prefix), { encryptionKey: new Uint8Array(key) });
    expect(restarted.current().kid).toBe(ring.current().kid);
    expect(restarted.jwks()).toEqual(ring.jwks());
    expect(Buffer.from(await rawRing(prefix)).equals(raw)).toBe(true); // nothing rewritten
    await signsVerifiably(restarted);
    // The next key was sealed from the start as well: once current, its DER is still not stored.
    await restarted.rotate({ force: true });
    await signsVerifiably(restarted);
    const rotated = await rawRing(prefix);
    expect(rotated.includes(currentDer(restarted))).toBe(false);
    expect(raw.includes(currentDer(restarted))).toBe(false);
  });

  it("stores them in clear without a key, and encrypts them in place once a key is set", async () => {
    const prefix = uniquePrefix();
    const clear = await open(redisStore(prefix));
    const der = currentDer(clear);
    const before = await rawRing(prefix);
    expect(before.includes(der)).toBe(true);

    const logger = recordingLogger();
    const encrypted = await open(redisStore(prefix), { encryptionKey: randomBytes(32), logger });
    expect(encrypted.current().kid).toBe(clear.current().kid);
    const after = await rawRing(prefix);
    expect(after.includes(der)).toBe(false);
    await signsVerifiably(encrypted);
    expect(fromBinary(SigningKeyRingSchema, after).keys.every((k) => k.privateKeyNonce.length === 12)).toBe(true);
    expect(logged(logger, "info", /encrypted the stored private keys/)).toBe(1);

    // Rotation keeps encrypting: the new next key is sealed too.
    await encrypted.rotate({ force: true });
    const rotated = fromBinary(SigningKeyRingSchema, await rawRing(prefix));
    expect(rotated.keys.every((k) => k.privateKeyNonce.length === 12)).toBe(true);
  });

  it("refuses to start with the wrong key", async () => {
    const prefix = uniquePrefix();
    await open(redisStore(prefix), { encryptionKey: randomBytes(32) });
    const failure = open(redisStore(prefix), { encryptionKey: randomBytes(32) });
    await expect(failure).rejects.toThrow(KeyEncryptionError);
    await expect(failure).rejects.toThrow("M2M_KEY_ENCRYPTION_KEY cannot decrypt the stored signing keys");
  });

  it("refuses to start without a key when the stored keys are encrypted", async () => {
    const prefix = uniquePrefix();
    await open(redisStore(prefix), { encryptionKey: randomBytes(32) });
    const failure = open(redisStore(prefix));
    await expect(failure).rejects.toThrow(KeyEncryptionError);
    await expect(failure).rejects.toThrow("signing keys are encrypted: set M2M_KEY_ENCRYPTION_KEY");
  });

  it("reads M2M_KEY_ENCRYPTION_KEY as hex, base64 or base64url, and names it when malformed", () => {
    const key = randomBytes(32);
    for (const text of [key.toString("hex"), key.toString("base64"), key.toString("base64").replace(/=$/, ""), key.toString("base64url")]) {
      expect(Buffer.from(loadConfig({ M2M_KEY_ENCRYPTION_KEY: text }).keyEncryptionKey!).equals(key)).toBe(true);
    }
    for (const bad of ["secret", key.toString("hex").slice(2), randomBytes(31).toString("base64"), `${key.toString("hex")}00`]) {
      expect(() => loadConfig({ M2M_KEY_ENCRYPTION_KEY: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ M2M_KEY_ENCRYPTION_KEY: bad })).toThrow(/^M2M_KEY_ENCRYPTION_KEY:/);
    }
  });
});
