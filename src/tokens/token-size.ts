import type { M2MClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { InvalidArgumentError } from "../errors.js";
import { signingAlgorithms } from "../keys/algorithms.js";
import { encodeClaims } from "../keys/sign-jwt.js";
import { encodeHeader, kidLength, signatureBytes } from "../keys/signing-key.js";
import { maxTokenLength, maxTokenLifetimeSeconds } from "../rules.js";
import { buildClaims } from "./claims.js";

// A verifier refuses any token longer than rules.maxTokenLength unparsed, so the issuer must never
// mint one: a client is refused when the largest token it could ever get would be longer. The
// size is measured on the very claims and encodings the token path uses (buildClaims, encodeClaims,
// encodeHeader), so the bound cannot drift from what is signed.

// The latest `iat` whose `exp` still has as many digits as today's (10, until the year 2286).
const latestIssueSeconds = 9_999_999_999 - maxTokenLifetimeSeconds;

// The longest header and signature of any algorithm the issuer may be configured to sign with
// (the algorithm can change at a rotation; a client registered today must fit then too).
const longestHeader = Math.max(...signingAlgorithms.map((alg) => encodeHeader(alg, "k".repeat(kidLength)).length));
const longestSignature = Math.max(...signingAlgorithms.map((alg) => Buffer.alloc(signatureBytes[alg]).toString("base64url").length));

/**
 * largestTokenLength is the length of the longest token `client` can get from `issuer`: every
 * scope and audience granted, the longest times, header and signature of any signing algorithm.
 */
export function largestTokenLength(client: M2MClient, issuer: string): number {
  const claims = buildClaims(client, { issuer, scopes: client.scopes, audience: client.audience, nowSeconds: latestIssueSeconds });
  return longestHeader + 1 + encodeClaims(claims).length + 1 + longestSignature;
}

// The field a caller can shorten most: custom claims, scopes (carried twice: `scope` and
// `scopes`) or audience, by the JSON each puts in the token.
function largestField(client: M2MClient): string {
  const sizes: [string, number][] = [
    ["custom_claims", JSON.stringify(client.customClaims.map(({ key, value }) => [key, value])).length],
    ["scopes", 2 * JSON.stringify(client.scopes).length],
    ["audience", JSON.stringify(client.audience).length],
  ];
  return sizes.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

/** checkTokenLength refuses (invalid_argument) a client whose largest token would exceed rules.maxTokenLength. */
export function checkTokenLength(client: M2MClient, issuer: string): void {
  const length = largestTokenLength(client, issuer);
  if (length > maxTokenLength) {
    throw new InvalidArgumentError(
      largestField(client),
      `the client's largest access token would be ${length} characters, over the ${maxTokenLength} a verifier accepts: shorten custom_claims, scopes or audience`,
    );
  }
}
