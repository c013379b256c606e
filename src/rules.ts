// The rules two rooms must agree on, each defined once. A leaf: it imports nothing, so the
// interceptor library (which may import nothing of the server) and the server share it.

/** minTokenLifetimeSeconds is the shortest client `expiry` the issuer allows. */
export const minTokenLifetimeSeconds = 60;

/** maxTokenLifetimeSeconds is the longest client `expiry` (a token's `exp` − `iat`): no token lives longer. */
export const maxTokenLifetimeSeconds = 86_400;

/** defaultClockSkewSeconds is the verifier's default leeway on `exp`, `nbf` and `iat` (RFC 7519 §4.1.4-6). */
export const defaultClockSkewSeconds = 30;

/** maxClockSkewSeconds is the largest leeway a verifier may be configured with. */
export const maxClockSkewSeconds = 300;

/**
 * asymmetricAlgorithms are the JWS algorithms any of our verifiers may accept. RFC 8725 §3.1: only
 * the algorithms expected, never "none" (§2.1), and never an HMAC algorithm next to public keys
 * (a token signed with HS256 using the public key as the secret would pass: key confusion, §2.1).
 */
export const asymmetricAlgorithms: readonly string[] = Object.freeze([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

/**
 * keyRetentionMs is how long a demoted signing key stays in the JWKS: a token it signed lives at
 * most maxTokenLifetimeSeconds, and a verifier at its largest skew still accepts it that much
 * longer. Any shorter and rotation would make valid tokens unverifiable (RFC 7517 §5, RFC 9068 §4).
 */
export const keyRetentionMs = (maxTokenLifetimeSeconds + maxClockSkewSeconds) * 1000;

/** maxTokenLength is the longest token, in characters, a verifier parses at all (8 KiB); the issuer never mints a longer one. */
export const maxTokenLength = 8192;

/** scopeTokenPattern is one RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
export const scopeTokenPattern = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** maxScopeLength is the longest scope-token a client may be granted. */
export const maxScopeLength = 128;

/**
 * clientIdPattern is the shape of any client id the issuer accepts (generated, configured admin, or
 * from an older version): safe in a Redis key, a log line and a form field without escaping.
 */
export const clientIdPattern = /^[A-Za-z0-9_.:-]{1,128}$/;

/** organizationIdPattern is the shape of an organization id (a path segment, a key part, an `oid` claim). */
export const organizationIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** clientIdPrefix starts every organization client id the issuer generates. */
export const clientIdPrefix = "m2morg_";

/** adminIdPrefix starts the id of the bootstrap admin client. */
export const adminIdPrefix = "m2madmin_";

/**
 * generatedClientIdPattern matches an id newClientId makes: the prefix, the organization's
 * 6-character hash tag (captured), then random base32.
 */
export const generatedClientIdPattern = new RegExp(`^${clientIdPrefix}([a-z2-7]{6})[a-z2-7]+$`);

/** generatedAdminIdPattern matches an id of the bootstrap admin client. */
export const generatedAdminIdPattern = new RegExp(`^${adminIdPrefix}[a-z2-7]{20}$`);

/** reservedClaims are the claims a custom claim may not shadow: JWT, RFC 9068 and our own. */
export const reservedClaims: ReadonlySet<string> = new Set([
  // RFC 7519 §4.1 registered claims
  "iss",
  "sub",
  "aud",
  "exp",
  "nbf",
  "iat",
  "jti",
  // RFC 9068 §2.2 and RFC 8693 §4 claims an access token may carry
  "client_id",
  "scope",
  "auth_time",
  "acr",
  "amr",
  "act",
  "may_act",
  "azp",
  "cnf",
  // ours: the scopes array and the organization id
  "scopes",
  "oid",
  // claims verifiers read as permissions (RFC 9068 §2.2.3.1, and `scp`, which our interceptor
  // reads as scopes): a custom claim must never grant what the scopes do not
  "scp",
  "roles",
  "groups",
  "entitlements",
  // the JWS header names, so no claim can be mistaken for one
  "typ",
  "alg",
  "kid",
]);

/**
 * prototypeKeys are claim keys a verifier's `claims[key]` on a plain object would read or write as
 * the object's prototype machinery (CWE-1321): never a custom claim.
 */
export const prototypeKeys: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * clientAssertionAlgorithms are the JWS algorithms a client assertion (RFC 7523) may be signed
 * with, and a registered client key may name: asymmetric only, never `none` or HS* (RFC 8725 §3.1),
 * since a symmetric "key" built from a public JWK would let anyone sign. The metadata's
 * `token_endpoint_auth_signing_alg_values_supported` (and introspection's, revocation's) is this list.
 */
// Of the asymmetric list, all but the fully-specified "Ed25519" name: registered keys name EdDSA.
export const clientAssertionAlgorithms: readonly string[] = Object.freeze(asymmetricAlgorithms.filter((alg) => alg !== "Ed25519"));

/** maxClientAssertionLifetimeSeconds bounds how far ahead a private_key_jwt assertion's `exp` may be (RFC 7523 §3 item 4). */
export const maxClientAssertionLifetimeSeconds = 300;

/**
 * maxFederatedAssertionLifetimeSeconds bounds how far ahead an external issuer's token (workload
 * identity federation) may expire: a Kubernetes service-account token's default life, GitHub's is shorter.
 */
export const maxFederatedAssertionLifetimeSeconds = 3600;

/**
 * isLoopbackHost says a URL's hostname is this host (127.0.0.0/8, ::1, localhost): the only place
 * plain http may be fetched from (a local test issuer or key server), since anywhere else it could
 * be spoofed on the path. Used by config (M2M_FEDERATED_ISSUERS, M2M_CLIENT_JWKS_ORIGINS) and a client's jwks_uri.
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** maxJtiLength bounds a token or assertion id (`jti`) the service stores: ours are UUIDs; anything far longer is not a real id. */
export const maxJtiLength = 256;
