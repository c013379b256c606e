import { decodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify, type JWTPayload } from "jose";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { keyAlgorithms, toNodeJwk } from "../clients/client-jwks.js";
import { InvalidClientError, InvalidRequestError } from "../errors.js";
import { clientAssertionAlgorithms, clientIdPattern, defaultClockSkewSeconds, maxClientAssertionLifetimeSeconds, maxTokenLength } from "../rules.js";
import { checkAssertionClaims } from "./assertion-claims.js";
import type { ClientReader } from "../store/client-record-cache.js";
import type { ClientStore } from "../store/client-store.js";
import type { ClientJwksUriKeys } from "./client-jwks-uri-keys.js";
import type { FederatedAssertionVerifier } from "./federated-assertion.js";

// RFC 7523 §2.2 / §3: a client authenticates with a JWT it signed with a key it registered
// (private_key_jwt, OpenID Connect Core §9). Every refusal is `invalid_client` (RFC 7523 §3.2).

/** jwtBearerAssertionType is the only `client_assertion_type` accepted (RFC 7523 §2.2). */
export const jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/**
 * clientAssertionOf reads the assertion parameters of a token request: the assertion when they
 * are present, undefined when absent. `otherMethod` says a secret (Basic or client_secret) came
 * too: RFC 6749 §2.3 allows one authentication method per request.
 */
export function clientAssertionOf(type: string | undefined, assertion: string | undefined, otherMethod: boolean): string | undefined {
  if (type === undefined && assertion === undefined) return undefined;
  if (otherMethod) throw new InvalidRequestError("use exactly one client authentication method: a client secret or a client_assertion, not both");
  if (type === undefined || assertion === undefined) throw new InvalidRequestError("client_assertion_type and client_assertion are required together");
  if (type !== jwtBearerAssertionType) throw new InvalidClientError(`client_assertion_type must be ${jwtBearerAssertionType}`);
  return assertion;
}

/** ClientAssertionVerifier authenticates a client by a private_key_jwt assertion. */
export interface ClientAssertionVerifier {
  /** verify returns the record of the client that signed `assertion`, or throws `invalid_client`; `clientId` may be empty. */
  verify(clientId: string, assertion: string): Promise<ClientRecord>;
}

/** ClientAssertionVerifierOptions configures createClientAssertionVerifier. */
export interface ClientAssertionVerifierOptions {
  /** store finds client records: the store itself, or a short-lived cache of it. */
  store: ClientReader;
  /** used marks each assertion's `jti`, so that it is accepted once (the store itself, never a cache). */
  used: Pick<ClientStore, "useOnce">;
  /** issuer is ours: an assertion's `aud` must be it or its token endpoint (RFC 7523 §3 item 3). */
  issuer: string;
  /** clockSkewSeconds is the leeway on `exp`, `nbf` and `iat`; default defaultClockSkewSeconds. */
  clockSkewSeconds?: number;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
  /** federation verifies assertions whose `iss` is a configured external issuer (workload identity federation); unset: none. */
  federation?: FederatedAssertionVerifier | undefined;
  /** jwksUriKeys reads the keys of clients registered with a jwks_uri; unset: such clients' assertions are refused. */
  jwksUriKeys?: ClientJwksUriKeys | undefined;
}

const refuse = (message: string, cause?: unknown) => new InvalidClientError(message, cause === undefined ? undefined : { cause });
// An unknown client, an unknown kid and a bad signature read alike: the answer does not tell
// which client ids exist.
const notRecognized = "client assertion not accepted: no registered key of the client verifies it";
// Imported verification keys, by algorithm and key content: importing (an RSA key's DER parse)
// would otherwise cost every private_key_jwt token request; bounded, oldest dropped first.
const maxImportedKeys = 1000;

function unverified(assertion: string): { alg: unknown; kid: unknown; claims: JWTPayload } {
  try {
    const header = decodeProtectedHeader(assertion);
    return { alg: header.alg, kid: header.kid, claims: decodeJwt(assertion) };
  } catch (err) {
    throw refuse("client_assertion is not a signed JWT", err);
  }
}

function claimError(err: unknown, audience: readonly string[]): InvalidClientError {
  if (err instanceof errors.JWTExpired) return refuse("the client assertion has expired", err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "aud") return refuse(`the client assertion's aud must be one of ${audience.join(", ")}`, err);
    if (err.claim === "jti" || err.claim === "exp") return refuse(`the client assertion must carry ${err.claim}`, err);
    return refuse(`the client assertion's ${err.claim} claim is not acceptable: ${err.reason}`, err);
  }
  return refuse(notRecognized, err);
}

/**
 * createClientAssertionVerifier checks, in order: the algorithm (allow-list, asymmetric only),
 * `iss` = `sub` = client_id, the key named by `kid` among the client's registered keys or those
 * published at its registered jwks_uri (never a key the JWT itself points at: `jku`, `x5u` and
 * `jwk` headers are ignored), the signature, `aud`,
 * `exp` (required, at most 5 minutes ahead), `nbf` and `iat` (with skew), then marks `jti` used.
 */
export function createClientAssertionVerifier(options: ClientAssertionVerifierOptions): ClientAssertionVerifier {
  const { store, used, issuer } = options;
  if (!store || !used || !issuer) throw new TypeError("createClientAssertionVerifier: options.store, options.used and options.issuer are required");
  const now = options.now ?? Date.now;
  const skew = options.clockSkewSeconds ?? defaultClockSkewSeconds;
  const base = issuer.replace(/\/+$/, "");
  const audience = [...new Set([`${base}/oauth/token`, issuer, base])];
  const imported = new Map<string, Promise<Awaited<ReturnType<typeof importJWK>>>>();
  function importOnce(key: Parameters<typeof toNodeJwk>[0], alg: string): ReturnType<typeof importJWK> {
    const jwk = toNodeJwk(key);
    const name = `${alg} ${JSON.stringify(jwk)}`;
    let found = imported.get(name);
    if (found === undefined) {
      found = importJWK(jwk, alg);
      // A failed import is not kept: the next request tries again.
      found.catch(() => imported.delete(name));
      if (imported.size >= maxImportedKeys) imported.delete(imported.keys().next().value as string);
      imported.set(name, found);
    }
    return found;
  }
  return {
    async verify(clientId, assertion) {
      if (assertion.length > maxTokenLength) throw refuse(`client_assertion is longer than ${maxTokenLength} characters`);
      const { alg, kid, claims } = unverified(assertion);
      // RFC 8725 §3.1: only the algorithms expected; `none` and HS* (a public key used as an
      // HMAC secret) never reach a key.
      if (typeof alg !== "string" || !clientAssertionAlgorithms.includes(alg)) {
        throw refuse(`the client assertion's alg must be one of ${clientAssertionAlgorithms.join(", ")}`);
      }
      const iss = claims.iss;
      // An external issuer's token (its iss is a URL, never a client id): the client is named by
      // client_id alone and trusts the issuer through its federated identities.
      if (typeof iss === "string" && options.federation?.issuers.has(iss) === true) return options.federation.verify(clientId, assertion, iss);
      // RFC 7523 §3 items 1-2: iss and sub are both the client_id.
      if (typeof iss !== "string" || !clientIdPattern.test(iss) || (clientId !== "" && iss !== clientId)) {
        throw refuse("the client assertion's iss must be the client_id");
      }
      if (claims.sub !== iss) throw refuse("the client assertion's sub must equal its iss (the client_id)");
      if (typeof kid !== "string") throw refuse("the client assertion's header must name its key (kid)");
      const record = await store.get(iss);
      const client = record?.client;
      // A client has jwks or jwks_uri, never both (RFC 7591 §2): its keys come from one place.
      const key =
        client?.jwksUri !== undefined && client.jwksUri !== ""
          ? await options.jwksUriKeys?.find(client.jwksUri, kid)
          : client?.jwks?.keys.find((candidate) => candidate.kid === kid);
      if (record === undefined || key === undefined || !keyAlgorithms(key).includes(alg)) throw refuse(notRecognized);
      const at = now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(assertion, await importOnce(key, alg), {
          algorithms: [alg],
          issuer: iss,
          subject: iss,
          audience,
          clockTolerance: skew,
          currentDate: new Date(at),
          requiredClaims: ["exp", "jti"],
        }));
      } catch (err) {
        throw claimError(err, audience);
      }
      const { useTtlMs } = checkAssertionClaims(payload, {
        atMs: at,
        skewSeconds: skew,
        maxLifetimeSeconds: maxClientAssertionLifetimeSeconds,
        jtiRequired: true,
      });
      const jti = payload.jti as string;
      // RFC 7523 §3 item 7: one use. Kept while the assertion could still be accepted (exp + skew).
      if (!(await used.useOnce(iss, jti, useTtlMs))) {
        throw refuse("the client assertion was used already (its jti is single use)");
      }
      return record;
    },
  };
}
