import { create } from "@bufbuild/protobuf";
import { FederatedIdentitySchema, type FederatedIdentity } from "../../gen/m2mauth/v1/clients_pb.js";
import { InvalidArgumentError } from "../errors.js";

// Workload identity federation: a client trusts tokens of an external OpenID issuer (GitHub
// Actions, a Kubernetes cluster, SPIRE) as its credential instead of a secret. What is checked
// here: the issuer is one the operator listed (so nothing a tenant writes is ever fetched), the
// subject is exact or a documented prefix pattern, and the audience is set.

/** maxFederatedIdentities is how many external identities a client may trust. */
export const maxFederatedIdentities = 10;

/** maxSubjectLength bounds a subject or subject pattern (GitHub's longest real subjects are well under it). */
export const maxSubjectLength = 256;

// eslint-disable-next-line no-control-regex -- finding control characters in client text is the point
const controlChars = /[\u0000-\u001F\u007F\uFFFD]/;

/** FederationPolicy is what registration checks identities against: the configured issuers and our own issuer URL. */
export interface FederationPolicy {
  /** issuers are the external issuers the operator listed (M2M_FEDERATED_ISSUERS); empty: none may be registered. */
  issuers: readonly string[];
  /** audience is the default `audience` of an identity: this service's issuer URL. */
  audience: string;
}

/**
 * subjectMatches says whether a token's `sub` matches a registered subject: equal to it, or, when
 * the subject ends in `*` (the only wildcard, and only last), starting with what comes before it.
 */
export function subjectMatches(pattern: string, sub: string): boolean {
  if (!pattern.endsWith("*")) return sub === pattern;
  const prefix = pattern.slice(0, -1);
  return prefix.length > 0 && sub.length > prefix.length && sub.startsWith(prefix);
}

function checkSubject(field: string, subject: string): void {
  if (subject.length === 0 || subject.length > maxSubjectLength || controlChars.test(subject)) {
    throw new InvalidArgumentError(field, `must be 1-${maxSubjectLength} characters without control characters`);
  }
  const star = subject.indexOf("*");
  // One trailing glob, after a non-empty prefix: "*" alone would trust every workload of the issuer.
  if (star !== -1 && (star !== subject.length - 1 || star === 0)) {
    throw new InvalidArgumentError(field, 'may hold one "*", only as its last character and after a prefix (e.g. "repo:acme/svc:*")');
  }
}

/**
 * validateFederatedIdentities checks a client's federated identities against `policy` and fills
 * each empty audience with our issuer URL; a bad one names its field. Undefined (a JavaScript
 * caller's plain object that leaves the list out) is none, as protobuf's zero value.
 */
export function validateFederatedIdentities(values: readonly FederatedIdentity[] | undefined, policy: FederationPolicy): FederatedIdentity[] {
  if (values === undefined) return [];
  if (values.length > maxFederatedIdentities) throw new InvalidArgumentError("federated_identities", `at most ${maxFederatedIdentities} identities`);
  const seen = new Set<string>();
  return values.map((value, i) => {
    const field = `federated_identities[${i}]`;
    if (!policy.issuers.includes(value.issuer)) {
      throw new InvalidArgumentError(
        `${field}.issuer`,
        policy.issuers.length === 0
          ? "no federated issuers are configured on this service (M2M_FEDERATED_ISSUERS)"
          : `must be one of the configured issuers, exactly: ${policy.issuers.join(", ")}`,
      );
    }
    checkSubject(`${field}.subject`, value.subject);
    const audience = value.audience === "" ? policy.audience : value.audience;
    if (audience.length > 256 || /\s/.test(audience) || controlChars.test(audience)) {
      throw new InvalidArgumentError(`${field}.audience`, "must be at most 256 characters without spaces (a URI or name); empty means this issuer's URL");
    }
    const key = JSON.stringify([value.issuer, value.subject, audience]);
    if (seen.has(key)) throw new InvalidArgumentError(field, "is listed twice");
    seen.add(key);
    return create(FederatedIdentitySchema, { issuer: value.issuer, subject: value.subject, audience });
  });
}
