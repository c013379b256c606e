import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { importJWK, jwtVerify, type JWK } from "jose";

// The baseline the issue names: what a service writes by hand without the library, jose's
// jwtVerify on every call with a key imported once, then the scope check. No cache of any kind.

/** NaiveAuthOptions are the checks the naive interceptor makes, with the one key it trusts. */
export interface NaiveAuthOptions {
  jwk: JWK;
  alg: string;
  issuer: string;
  audience: string;
  /** scope is the one scope every call must be granted. */
  scope: string;
}

/** createNaiveAuthInterceptor imports the key and returns an interceptor verifying every call's token in full. */
export async function createNaiveAuthInterceptor(options: NaiveAuthOptions): Promise<Interceptor> {
  const key = await importJWK(options.jwk, options.alg);
  const verifyOptions = { issuer: options.issuer, audience: options.audience, algorithms: [options.alg], typ: "at+jwt" };
  return (next) => async (req) => {
    const authorization = req.header.get("authorization") ?? "";
    if (!authorization.startsWith("Bearer ")) throw new ConnectError("missing bearer token", Code.Unauthenticated);
    let scope: unknown;
    try {
      ({
        payload: { scope },
      } = await jwtVerify(authorization.slice(7), key, verifyOptions));
    } catch (cause) {
      throw new ConnectError("invalid token", Code.Unauthenticated, undefined, undefined, cause);
    }
    if (typeof scope !== "string" || !scope.split(" ").includes(options.scope)) {
      throw new ConnectError("insufficient scope", Code.PermissionDenied);
    }
    return next(req);
  };
}
