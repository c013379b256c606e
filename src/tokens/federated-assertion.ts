import { createHash } from "node:crypto";
import { errors, jwtVerify, type JWTPayload } from "jose";
import type { ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { subjectMatches } from "../clients/federated-identities.js";
import { InvalidClientError, UnavailableError } from "../errors.js";
import { KeysUnavailableError } from "../interceptor/verification.js";
import { clientAssertionAlgorithms, clientIdPattern, defaultClockSkewSeconds, maxFederatedAssertionLifetimeSeconds } from "../rules.js";
import { checkAssertionClaims } from "./assertion-claims.js";
import type { ClientReader } from "../store/client-record-cache.js";
import type { ClientStore } from "../store/client-store.js";
import type { FederatedKeys } from "./federated-keys.js";

// Workload identity federation: the client_assertion (RFC 7523 §2.2) is a token an external
// issuer minted for a workload (GitHub Actions, Kubernetes, SPIFFE), so its iss and sub are the
// issuer's, not the client's: `client_id` names the client, whose registered federated identities
// must match the token's iss, sub and aud. Every refusal is `invalid_client` (RFC 7523 §3.2),
// except an issuer that cannot be reached: `temporarily_unavailable`, retryable (fail closed).

/** FederatedAssertionVerifier authenticates a client by a token of a configured external issuer. */
export interface FederatedAssertionVerifier {
  /** issuers are the configured issuers: an assertion whose `iss` is one of them is for this verifier. */
  readonly issuers: ReadonlySet<string>;
  /**
   * verify returns the record of `clientId` when the assertion, which names `issuer` (one of
   * `issuers`) as its unverified `iss`, verifies and matches a federated identity of the client.
   */
  verify(clientId: string, assertion: string, issuer: string): Promise<ClientRecord>;
}

/** FederatedAssertionVerifierOptions configures createFederatedAssertionVerifier. */
export interface FederatedAssertionVerifierOptions {
  /** store finds client records: the store itself, or a short-lived cache of it. */
  store: ClientReader;
  /** used marks each assertion used, so that it is accepted once (the store itself, never a cache). */
  used: Pick<ClientStore, "useOnce">;
  /** keys finds the configured issuers' keys (discovery and JWKS, cached); its `issuers` are the ones trusted. */
  keys: FederatedKeys;
  /** clockSkewSeconds is the leeway on `exp`, `nbf` and `iat`; default defaultClockSkewSeconds. */
  clockSkewSeconds?: number;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
}

const refuse = (message: string, cause?: unknown) => new InvalidClientError(message, cause === undefined ? undefined : { cause });
// Said alike for an unknown client, no identity for this issuer, another subject or audience:
// the answer tells nothing of which clients exist or whom they trust.
const noMatch = "client assertion not accepted: it matches no federated identity of the client";
const notVerified = "client assertion not accepted: no key of its issuer verifies it";

function failure(err: unknown): Error {
  if (err instanceof KeysUnavailableError) return new UnavailableError("the issuer of the client assertion cannot be reached; retry later", { cause: err });
  if (err instanceof errors.JWTExpired) return refuse("the client assertion has expired", err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "exp" || err.claim === "sub" || err.claim === "aud") return refuse(`the client assertion must carry ${err.claim}`, err);
    return refuse(`the client assertion's ${err.claim} claim is not acceptable: ${err.reason}`, err);
  }
  // A bad signature, an unknown or missing kid, keys the issuer serves that cannot be used.
  return refuse(notVerified, err);
}

/**
 * createFederatedAssertionVerifier checks, in order: the signature by the issuer's key (chosen by
 * `kid` from its JWKS; `jku`, `x5u` and `jwk` headers ignored; asymmetric algorithms only), `exp`
 * (required, at most an hour ahead), `nbf` and `iat` (with skew), then that a federated identity
 * of the client has this issuer, a subject `sub` matches and an audience `aud` holds, and last
 * marks the `jti` (without one: the assertion's SHA-256) used until the assertion expires.
 */
export function createFederatedAssertionVerifier(options: FederatedAssertionVerifierOptions): FederatedAssertionVerifier {
  const { store, used, keys } = options;
  if (!store || !used || !keys) throw new TypeError("createFederatedAssertionVerifier: options.store, options.used and options.keys are required");
  const now = options.now ?? Date.now;
  const skew = options.clockSkewSeconds ?? defaultClockSkewSeconds;
  // One list, the key source's: the issuers trusted are exactly those whose keys may be fetched.
  const issuers = keys.issuers;
  return {
    issuers,
    async verify(clientId, assertion, issuer) {
      // RFC 7523 §3: the client is not the token's iss or sub here, so only client_id names it.
      if (clientId === "") throw refuse("client_id is required with a client assertion from a federated issuer");
      if (!clientIdPattern.test(clientId) || !issuers.has(issuer)) throw refuse(noMatch);
      const at = now();
      let payload: JWTPayload;
      try {
        // Only the issuer's own keys, found through its configured URL; `iss` is checked to be it.
        ({ payload } = await jwtVerify(assertion, (header) => keys.resolve(issuer, header), {
          issuer,
          algorithms: [...clientAssertionAlgorithms],
          clockTolerance: skew,
          currentDate: new Date(at),
          requiredClaims: ["exp", "sub", "aud"],
        }));
      } catch (err) {
        throw failure(err);
      }
      const { useTtlMs } = checkAssertionClaims(payload, {
        atMs: at,
        skewSeconds: skew,
        maxLifetimeSeconds: maxFederatedAssertionLifetimeSeconds,
        jtiRequired: false,
      });
      const sub = payload.sub;
      const audiences = typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []);
      const record = await store.get(clientId);
      const matched = record?.client?.federatedIdentities.some(
        (identity) => identity.issuer === issuer && typeof sub === "string" && subjectMatches(identity.subject, sub) && audiences.includes(identity.audience),
      );
      if (record === undefined || matched !== true) throw refuse(noMatch);
      const jti = payload.jti;
      // One use while it could still be accepted (exp + skew): by its jti within its issuer, or,
      // for issuers that set none (some Kubernetes versions), by the whole assertion's digest.
      const id = jti !== undefined ? `federated:${issuer}\njti:${jti}` : `federated:sha256:${createHash("sha256").update(assertion).digest("base64url")}`;
      if (!(await used.useOnce(clientId, id, useTtlMs))) {
        throw refuse("the client assertion was used already (it is single use)");
      }
      return record;
    },
  };
}
