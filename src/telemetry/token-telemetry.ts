import { toOAuthError } from "../http/http-errors.js";
import type { OAuthEndpointLog } from "../http/oauth-endpoint.js";
import type { KeyRing } from "../keys/key-ring.js";
import type { SigningKey } from "../keys/signing-key.js";
import type { TokenService } from "../tokens/token-service.js";
import type { Metrics } from "./metrics.js";
import { endSpan, startChildSpan } from "./tracing.js";

// Tokens issued and refused are counted at each edge where the outcome is known whole: the
// token endpoint's outcome line (which sees refusals before the grant is read, e.g. a form with no
// credentials) and the IssueToken RPC's call of the token service. Both name the refusal by its
// RFC 6749 §5.2 code, as the endpoint answers it (http-errors.ts, the one table).

/** countTokenEndpoint returns the token endpoint's outcome log, counting each outcome first. */
export function countTokenEndpoint(log: OAuthEndpointLog, metrics: Metrics, keyRing: Pick<KeyRing, "current">): OAuthEndpointLog {
  return (outcome) => {
    if (outcome.status === 200) metrics.tokenIssued(outcome.grant, keyRing.current().alg, outcome.clientId);
    else metrics.tokenRefused(outcome.grant, outcome.error ?? "server_error", outcome.clientId);
    log(outcome);
  };
}

/** countTokenIssue returns `tokens` with every issue counted (the IssueToken RPC's path). */
export function countTokenIssue(tokens: TokenService, metrics: Metrics, keyRing: Pick<KeyRing, "current">): TokenService {
  return {
    async issue(request) {
      try {
        const response = await tokens.issue(request);
        metrics.tokenIssued(request.grantType, keyRing.current().alg, request.clientId);
        return response;
      } catch (err) {
        metrics.tokenRefused(request.grantType, toOAuthError(err).body.error, request.clientId);
        throw err;
      }
    },
  };
}

/**
 * traceSigning returns `keyRing` whose keys sign inside a `sign` child span (when the request is
 * traced): the signature is the token path's largest cost, worth seeing apart from the store's.
 */
export function traceSigning(keyRing: KeyRing): KeyRing {
  const traced = new WeakMap<SigningKey, SigningKey>();
  function wrap(key: SigningKey): SigningKey {
    const attributes = { "m2m_auth.alg": key.alg, "m2m_auth.kid": key.kid };
    const wrapped = Object.create(key) as SigningKey & { sign: SigningKey["sign"] };
    wrapped.sign = async (input, onThreadPool) => {
      const span = startChildSpan("sign", attributes);
      if (span === undefined) return key.sign(input, onThreadPool);
      try {
        const signature = await key.sign(input, onThreadPool);
        endSpan(span);
        return signature;
      } catch (err) {
        endSpan(span, err);
        throw err;
      }
    };
    return wrapped;
  }
  const ring = Object.create(keyRing) as KeyRing & { current: KeyRing["current"] };
  ring.current = () => {
    const key = keyRing.current();
    let wrapped = traced.get(key);
    if (wrapped === undefined) traced.set(key, (wrapped = wrap(key)));
    return wrapped;
  };
  return ring;
}
