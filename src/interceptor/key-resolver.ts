// Picks the verification key for a token from our own key source, by `kid` and `alg` only.
import { importJWK, type CryptoKey, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from "jose";
import { keyShapeOf, type KeyShape } from "./algorithms.js";
import { materialOf, publicPart } from "./jwk-identity.js";
import type { KeySource } from "./key-source.js";
import { createKeySetWatch } from "./key-set-watch.js";
import { KeysUnavailableError, TokenVerificationError } from "./verification-error.js";

// Imported keys, by alg and kid; `material` detects a kid that now names other key material.
const maxCachedKeys = 32;

function usable(jwk: unknown, alg: string, shape: KeyShape): jwk is JWK {
  if (typeof jwk !== "object" || jwk === null) return false;
  const k = jwk as JWK;
  return (
    k.kty === shape.kty &&
    (shape.crv === undefined || (typeof k.crv === "string" && shape.crv.includes(k.crv))) &&
    (k.alg === undefined || k.alg === alg) && // RFC 7517 §4.4
    (k.use === undefined || k.use === "sig") && // RFC 7517 §4.2
    (k.key_ops === undefined || (Array.isArray(k.key_ops) && k.key_ops.includes("verify"))) // RFC 7517 §4.3
  );
}

function candidates(set: JSONWebKeySet, alg: string, shape: KeyShape, kid: string): JWK[] {
  return set.keys.filter((jwk) => usable(jwk, alg, shape) && jwk.kid === kid);
}

/** KeyResolver picks verification keys and tells whether a key it picked is still published. */
export interface KeyResolver {
  /** resolve returns the key that must verify a token with this protected header (jose's getKey). */
  resolve(header: JWSHeaderParameters): Promise<CryptoKey>;
  /** isCurrent reports whether `key`, from resolve, is in the newest key set read. */
  isCurrent(key: unknown): boolean;
}

/**
 * createKeyResolver returns the key getter given to jose's jwtVerify. It reads only `alg` and
 * `kid`: the `jku`, `x5u`, `jwk` and `x5c` headers are ignored, so a token can never bring or point
 * to its own key (RFC 8725 §3.10). A token without `kid` is rejected ("missing kid"): our issuer
 * always sets it, and picking a key for a token without one would be a guess. A `kid` that fits no
 * key or more than one is rejected too. `onKeysRemoved` is called when a set read lacks a key of
 * the set read before it (dropped or replaced).
 */
export function createKeyResolver(source: KeySource, algorithms: readonly string[], onKeysRemoved: () => void = () => {}): KeyResolver {
  const allowed = new Set(algorithms);
  const cache = new Map<string, { material: string; key: Promise<CryptoKey> }>();
  const identities = new WeakMap<CryptoKey, string>();
  const watch = createKeySetWatch(onKeysRemoved);
  const current = () => source.current();
  const refresh = () => source.refresh();

  // A key set is usually the same objects call after call: derive each JWK's parts once.
  const derived = new WeakMap<JWK, { pub: JWK; material: string }>();
  function partsOf(jwk: JWK): { pub: JWK; material: string } {
    let parts = derived.get(jwk);
    if (parts === undefined) {
      parts = { pub: publicPart(jwk), material: materialOf(jwk) };
      derived.set(jwk, parts);
    }
    return parts;
  }

  function importKey(jwk: JWK, alg: string): Promise<CryptoKey> {
    const { pub, material } = partsOf(jwk);
    const id = `${alg}\u0000${jwk.kid ?? ""}`;
    const hit = cache.get(id);
    if (hit !== undefined && hit.material === material) return hit.key;
    const entry = {
      material,
      key: importJWK(pub, alg)
        .then((k) => {
          if (k instanceof Uint8Array) throw new TypeError("symmetric key");
          // RFC 7518 §3.3, §3.5: RSA keys of 2048 bits or more only.
          const { modulusLength } = k.algorithm as { modulusLength?: number };
          if (modulusLength !== undefined && modulusLength < 2048) throw new TypeError("RSA key too short");
          identities.set(k, `${jwk.kid ?? ""}\u0000${material}`); // as identityOf(jwk)
          return k;
        })
        .catch((cause: unknown) => {
          if (cache.get(id) === entry) cache.delete(id);
          throw new KeysUnavailableError("verification keys are unavailable: a key could not be imported", { cause });
        }),
    };
    cache.delete(id);
    cache.set(id, entry);
    if (cache.size > maxCachedKeys) cache.delete(cache.keys().next().value as string);
    return entry.key;
  }

  async function resolve(header: JWSHeaderParameters): Promise<CryptoKey> {
    const { alg, kid } = header;
    // jose checks `alg` against the allow-list before calling here; checked again as defence in depth.
    if (typeof alg !== "string" || !allowed.has(alg)) throw new TokenVerificationError("algorithm not allowed");
    const shape = keyShapeOf(alg);
    if (shape === undefined) throw new TokenVerificationError("algorithm not allowed");
    // A token is never accepted on a guess: without a kid no key is picked, however few fit.
    if (kid === undefined) throw new TokenVerificationError("missing kid");
    if (typeof kid !== "string" || kid === "") throw new TokenVerificationError("malformed token");
    let found = candidates((await watch.read(current)) as JSONWebKeySet, alg, shape, kid);
    if (found.length === 0) {
      // A kid we do not know yet may be a freshly rotated key: re-read the set once (rate-limited).
      const fresh = await watch.read(refresh);
      if (fresh !== undefined) found = candidates(fresh, alg, shape, kid);
    }
    const [jwk] = found;
    if (jwk === undefined || found.length !== 1) throw new TokenVerificationError("unknown key id");
    return importKey(jwk, alg);
  }

  return {
    resolve,
    isCurrent(key) {
      const identity = typeof key === "object" && key !== null ? identities.get(key as CryptoKey) : undefined;
      return identity !== undefined && watch.holds(identity);
    },
  };
}
