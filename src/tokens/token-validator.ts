import type { JsonObject } from "@bufbuild/protobuf";
import { createTokenVerifier, TokenVerificationError, type TokenVerifierKeys } from "../interceptor/index.js";
import type { RevocationStore } from "../store/client-store.js";

/** TokenValidation is the answer of ValidateToken. */
export interface TokenValidation {
  valid: boolean;
  /** reason says why the token is not valid; empty when it is. */
  reason: string;
  claims?: JsonObject;
}

/** TokenValidator checks tokens this issuer signed. */
export interface TokenValidator {
  /** validate verifies signature and claims; `audience`, when given, must be in `aud`. */
  validate(token: string, audience: string): Promise<TokenValidation>;
}

/**
 * createTokenValidator returns a validator that uses the interceptor's verifier, so the server
 * and the services that install the interceptor accept exactly the same tokens; with
 * `revocations`, a revoked token (RFC 7009) is refused too, read from the store on every call so
 * a revocation on any instance counts at once. A key store or store failure is thrown (fail
 * closed, retryable), never reported as a token verdict.
 */
export function createTokenValidator(options: {
  issuer: string;
  keys: TokenVerifierKeys;
  clock?: () => number;
  revocations?: RevocationStore;
}): TokenValidator {
  const verifier = createTokenVerifier({ issuer: options.issuer, keys: options.keys, ...(options.clock ? { clock: options.clock } : {}) });
  return {
    async validate(token, audience) {
      try {
        const claims = await verifier.verify(token);
        const aud = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
        if (audience !== "" && !aud.includes(audience)) return { valid: false, reason: "audience mismatch" };
        // Checked after the signature, so only our own tokens' ids ever reach the store.
        if (await options.revocations?.isRevoked(claims.jti)) return { valid: false, reason: "token revoked" };
        // `scopes` here is the verifier's normalized union of scope, scopes and scp.
        return { valid: true, reason: "", claims: claims as JsonObject };
      } catch (err) {
        if (err instanceof TokenVerificationError) return { valid: false, reason: err.message };
        throw err;
      }
    },
  };
}
