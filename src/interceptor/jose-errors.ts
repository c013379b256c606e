// Maps jose's errors to the verifier's: a safe message per failed check; the token is never quoted.
import { errors } from "jose";
import { KeysUnavailableError, TokenVerificationError } from "./verification-error.js";

// Safe messages for jose's claim failures, by claim.
const claimMessages: Record<string, string> = {
  iss: "issuer mismatch",
  aud: "audience mismatch",
  nbf: "token not yet valid",
  exp: "token expired",
  typ: "typ must be at+jwt",
};

/** toVerificationError turns anything jwtVerify threw into a TokenVerificationError or KeysUnavailableError. */
export function toVerificationError(err: unknown): TokenVerificationError | KeysUnavailableError {
  if (err instanceof TokenVerificationError || err instanceof KeysUnavailableError) return err;
  const fail = (message: string) => new TokenVerificationError(message, { cause: err });
  if (err instanceof errors.JWTExpired) return fail("token expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "invalid") return fail("malformed token");
    if (err.reason === "missing" && !["iss", "aud"].includes(err.claim)) return fail(`missing ${err.claim} claim`);
    return fail(claimMessages[err.claim] ?? "malformed token");
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return fail("signature invalid");
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return fail("unknown key id");
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return fail("algorithm not allowed");
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return fail("malformed token");
  if (err instanceof errors.JOSENotSupported) return fail("malformed token"); // e.g. an unknown `crit`
  return fail("token rejected");
}
