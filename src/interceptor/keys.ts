// Where the verifier's public keys come from (a remote JWKS, a static set, or a function returning
// the current set) and which one verifies a token. jose's createLocalJWKSet picks the key by kid,
// kty, crv, alg, use and key_ops and refuses symmetric and private keys; jose's verify refuses RSA
// keys under 2048 bits. Added here is what jose lacks: a kid is required, an unknown kid re-reads
// the set once, and a watch over the sets read tells when a key has left (RFC 7517 §5).
import { createLocalJWKSet, errors, type CryptoKey, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from "jose";
import { createJwksCache, type RemoteKeys } from "./jwks-cache.js";
import { KeysUnavailableError, TokenVerificationError } from "./verification.js";

/** LocalKeyProvider returns the current key set; it is called once per verification (not per cache hit). */
export type LocalKeyProvider = () => JSONWebKeySet | Promise<JSONWebKeySet>;

/** TokenVerifierKeys is the `keys` option: a remote JWKS, a static set, or a provider function. */
export type TokenVerifierKeys = RemoteKeys | JSONWebKeySet | LocalKeyProvider;

/** KeySource yields the key set to pick a verification key from. */
export interface KeySource {
  /** current returns the key set to use now; it throws KeysUnavailableError when it cannot. */
  current(): Promise<JSONWebKeySet>;
  /** refresh re-reads the set after a key id was not found; undefined when it may not re-read now. */
  refresh(): Promise<JSONWebKeySet | undefined>;
}

const keysShape = "keys: must be { jwksUri }, a JSON Web Key Set or a function returning one";

async function read(load: () => unknown): Promise<JSONWebKeySet> {
  let set: unknown;
  try {
    set = await load();
  } catch (cause) {
    throw cause instanceof KeysUnavailableError ? cause : new KeysUnavailableError(undefined, { cause });
  }
  if (typeof set !== "object" || set === null || !Array.isArray((set as JSONWebKeySet).keys)) {
    throw new KeysUnavailableError("verification keys are unavailable: not a JSON Web Key Set");
  }
  return set as JSONWebKeySet;
}

const none = (): Promise<undefined> => Promise.resolve(undefined);

/**
 * createKeySource turns the `keys` option into a KeySource; `clock` (ms) ages a remote set. It
 * throws a TypeError naming the bad option, e.g. "keys.jwksUri: must be an http(s) URL".
 */
export function createKeySource(keys: TokenVerifierKeys, clock: () => number = Date.now): KeySource {
  if (typeof keys === "function") return { current: () => read(keys), refresh: none };
  if (typeof keys !== "object" || keys === null) throw new TypeError(keysShape);
  if ("jwksUri" in keys) {
    try {
      return createJwksCache({ ...keys, clock });
    } catch (err) {
      throw err instanceof TypeError ? new TypeError(`keys.${err.message}`) : err;
    }
  }
  if (!Array.isArray(keys.keys)) throw new TypeError(keysShape);
  const set = keys;
  return { current: () => Promise.resolve(set), refresh: none };
}

/** identityOf names a JWK by kid and public material (RFC 7517 §4), so a kid reused for another key is another identity. */
function identityOf(jwk: unknown): string {
  if (typeof jwk !== "object" || jwk === null) return "";
  const { kid, kty, crv, n, e, x, y } = jwk as JWK;
  return JSON.stringify([kid, kty, crv, n, e, x, y]);
}

/** KeyResolver picks verification keys and tells whether a key it picked is still published. */
export interface KeyResolver {
  /** resolve returns the key that must verify a token with this protected header (jose's getKey). */
  resolve(header: JWSHeaderParameters): Promise<CryptoKey>;
  /** isCurrent reports whether `key`, from resolve, is in the newest key set read. */
  isCurrent(key: unknown): boolean;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

/**
 * createKeyResolver returns the key getter given to jose's jwtVerify. It reads only `alg` and
 * `kid`: the `jku`, `x5u`, `jwk` and `x5c` headers are ignored, so a token can never bring or point
 * to its own key (RFC 8725 §3.10). A token without `kid` is rejected ("missing kid"): our issuer
 * always sets it, and picking a key for a token without one would be a guess. A `kid` that fits no
 * key or more than one is rejected too. `onKeysRemoved` is called when a set read lacks a key of
 * the set read before it (dropped or replaced).
 */
export function createKeyResolver(source: KeySource, onKeysRemoved: () => void = () => {}): KeyResolver {
  // The newest set recorded: reads may finish out of order, the one started last wins.
  let started = 0;
  let newest: { stamp: number; set: JSONWebKeySet; ids: Set<string> } | undefined;
  // jose's key set for the newest distinct content: a provider that returns an equal set as a new
  // object each call does not make every verification re-import its key.
  let local: { set: JSONWebKeySet; content: string; keys: LocalSet } | undefined;
  // The identities of the JWKs a resolved key may stand for, for isCurrent.
  const identities = new WeakMap<CryptoKey, string[]>();

  function record(set: JSONWebKeySet, stamp: number): void {
    if (newest !== undefined && stamp < newest.stamp) return;
    if (newest?.set === set) {
      newest.stamp = stamp;
      return;
    }
    const ids = new Set(set.keys.map(identityOf));
    const before = newest?.ids;
    newest = { stamp, set, ids };
    if (before !== undefined && [...before].some((id) => !ids.has(id))) onKeysRemoved();
  }

  async function readSet(get: () => Promise<JSONWebKeySet | undefined>): Promise<JSONWebKeySet | undefined> {
    const stamp = ++started;
    const set = await get();
    if (set !== undefined) record(set, stamp);
    return set;
  }

  function localOf(set: JSONWebKeySet): LocalSet {
    if (local?.set === set) return local.keys;
    const content = JSON.stringify(set.keys);
    if (local?.content === content) local.set = set;
    else local = { set, content, keys: createLocalJWKSet(set) };
    return local.keys;
  }

  // undefined when no key fits: the caller may re-read the set once.
  async function pick(set: JSONWebKeySet, header: JWSHeaderParameters, kid: string): Promise<CryptoKey | undefined> {
    let key: CryptoKey;
    try {
      key = await localOf(set)(header);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) return undefined;
      if (err instanceof errors.JWKSMultipleMatchingKeys) throw new TokenVerificationError("unknown key id");
      // An alg jose's key sets do not take (it checks the allow-list first; kept as defence in depth).
      if (err instanceof errors.JOSENotSupported) throw new TokenVerificationError("algorithm not allowed");
      // A malformed set, a private or unimportable key: the issuer's set is at fault, not the token.
      throw new KeysUnavailableError("verification keys are unavailable: a key could not be imported", { cause: err });
    }
    if (!identities.has(key)) identities.set(key, set.keys.filter((k) => k.kid === kid).map(identityOf));
    return key;
  }

  return {
    async resolve(header) {
      const { kid } = header;
      // A token is never accepted on a guess: without a kid no key is picked, however few fit.
      if (kid === undefined) throw new TokenVerificationError("missing kid");
      if (typeof kid !== "string" || kid === "") throw new TokenVerificationError("malformed token");
      const key = await pick((await readSet(() => source.current())) as JSONWebKeySet, header, kid);
      if (key !== undefined) return key;
      // A kid we do not know yet may be a freshly rotated key: re-read the set once (rate-limited).
      const fresh = await readSet(() => source.refresh());
      const found = fresh === undefined ? undefined : await pick(fresh, header, kid);
      if (found === undefined) throw new TokenVerificationError("unknown key id");
      return found;
    },
    isCurrent(key) {
      const ids = typeof key === "object" && key !== null ? identities.get(key as CryptoKey) : undefined;
      return ids !== undefined && ids.length > 0 && ids.every((id) => newest?.ids.has(id) === true);
    },
  };
}
