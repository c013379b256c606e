// Where the verifier reads its public keys: a remote JWKS URL, a static set, or a function that
// returns the current set (the token server itself, whose key ring changes at run time).
import { createRemoteJWKSet, type JSONWebKeySet } from "jose";
import { KeysUnavailableError } from "./verification-error.js";

/** RemoteKeys names a JWKS document (RFC 7517 §5) to fetch and cache. */
export interface RemoteKeys {
  /** jwksUri is the absolute http(s) URL of the JWKS, e.g. the issuer's `jwks_uri`. */
  jwksUri: string;
}

/** LocalKeyProvider returns the current key set; it is called once per verification. */
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

function remoteSource(jwksUri: string): KeySource {
  let url: URL;
  try {
    url = new URL(jwksUri);
  } catch {
    throw new TypeError("keys.jwksUri: must be an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError("keys.jwksUri: must be an http(s) URL");
  }
  // jose fetches (5 s timeout), caches for 10 min and re-fetches at most every 30 s on an unknown
  // kid. Only its fetch and cache are used: keys are picked by our own rules, never by jose's.
  const remote = createRemoteJWKSet(url);
  let snapshot: JSONWebKeySet | undefined;
  const load = async (): Promise<JSONWebKeySet> => {
    await remote.reload();
    return (snapshot = checkSet(remote.jwks()));
  };
  return {
    current: () => (snapshot !== undefined && remote.fresh ? Promise.resolve(snapshot) : read(load)),
    refresh: () => (remote.coolingDown ? Promise.resolve(undefined) : read(load)),
  };
}

/** createKeySource turns the `keys` option into a KeySource; it throws TypeError for a bad option. */
export function createKeySource(keys: TokenVerifierKeys): KeySource {
  if (typeof keys === "function") {
    return { current: () => read(keys), refresh: () => Promise.resolve(undefined) };
  }
  if (typeof keys !== "object" || keys === null) {
    throw new TypeError("keys: must be { jwksUri }, a JSON Web Key Set or a function returning one");
  }
  if ("jwksUri" in keys) {
    if (typeof keys.jwksUri !== "string") throw new TypeError("keys.jwksUri: must be a string");
    return remoteSource(keys.jwksUri);
  }
  const set = checkSetOption(keys);
  return { current: () => Promise.resolve(set), refresh: () => Promise.resolve(undefined) };
}

function checkSetOption(keys: object): JSONWebKeySet {
  if (!Array.isArray((keys as JSONWebKeySet).keys)) {
    throw new TypeError("keys: must be { jwksUri }, a JSON Web Key Set or a function returning one");
  }
  return keys as JSONWebKeySet;
}
