// Where the verifier reads its public keys: a remote JWKS URL, a static set, or a function that
// returns the current set (the token server itself, whose key ring changes at run time).
import type { JSONWebKeySet } from "jose";
import { createJwksCache, type RemoteKeys } from "./jwks-cache.js";
import { KeysUnavailableError } from "./verification-error.js";

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

function checkSet(set: unknown): JSONWebKeySet {
  if (typeof set !== "object" || set === null || !Array.isArray((set as JSONWebKeySet).keys)) {
    throw new KeysUnavailableError("verification keys are unavailable: not a JSON Web Key Set");
  }
  return set as JSONWebKeySet;
}

async function read(load: () => unknown): Promise<JSONWebKeySet> {
  let set: unknown;
  try {
    set = await load();
  } catch (cause) {
    throw cause instanceof KeysUnavailableError ? cause : new KeysUnavailableError(undefined, { cause });
  }
  return checkSet(set);
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
  if (!Array.isArray((keys as JSONWebKeySet).keys)) throw new TypeError(keysShape);
  const set = keys as JSONWebKeySet;
  return { current: () => Promise.resolve(set), refresh: none };
}
