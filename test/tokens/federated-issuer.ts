import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { newClientKey, type ClientKey } from "./assertion-fixtures.js";

// An external OpenID issuer a test starts on 127.0.0.1 (as GitHub Actions or a Kubernetes
// cluster would be): its own ES256 and RS256 keys, a discovery document and a JWKS, and switches
// that make it misbehave.

/** LocalIssuer is a running test issuer. */
export interface LocalIssuer {
  /** url is the issuer URL, the `iss` of its tokens: http://127.0.0.1:PORT. */
  url: string;
  es256: ClientKey;
  rs256: ClientKey;
  /** requests counts the GETs of each path. */
  requests: Map<string, number>;
  /**
   * actions is what the GitHub-like token request endpoint (`GET /actions-token?api-version=2.0&audience=…`,
   * as ACTIONS_ID_TOKEN_REQUEST_URL) asks and answers: the bearer it requires and the subject it mints for.
   */
  actions: { requestToken: string; subject: string; nowSeconds?: () => number };
  /** misbehave changes what the discovery endpoint answers: another `issuer` or `jwks_uri`, a redirect, an error status. */
  misbehave: { discoveryIssuer?: string; jwksUri?: string; redirectTo?: string; discoveryStatus?: number };
  /** token signs a token of this issuer: iss = url, iat now, exp 5 min ahead, a jti; claims replace or (undefined) remove. */
  token(claims: Record<string, unknown>, options?: { key?: ClientKey; nowSeconds?: number; header?: Record<string, unknown> }): Promise<string>;
  close(): Promise<void>;
}

/** startLocalIssuer starts an issuer on a random loopback port. */
export async function startLocalIssuer(): Promise<LocalIssuer> {
  const [es256, rs256] = await Promise.all([newClientKey("ES256"), newClientKey("RS256")]);
  const requests = new Map<string, number>();
  const misbehave: LocalIssuer["misbehave"] = {};
  const actions: LocalIssuer["actions"] = { requestToken: randomUUID(), subject: "repo:acmecorp/inventory-service:ref:refs/heads/main" };
  let url = "";
  const sign = (claims: Record<string, unknown>, key: ClientKey, nowSeconds: number, header: Record<string, unknown> = {}) => {
    const all: Record<string, unknown> = { iss: url, iat: nowSeconds, nbf: nowSeconds, exp: nowSeconds + 300, jti: randomUUID(), ...claims };
    for (const [name, value] of Object.entries(all)) if (value === undefined) delete all[name];
    return new SignJWT(all).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header }).sign(key.privateKey);
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const json = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (path === "/.well-known/openid-configuration") {
      if (misbehave.discoveryStatus !== undefined) {
        res.writeHead(misbehave.discoveryStatus).end();
        return;
      }
      if (misbehave.redirectTo !== undefined) {
        res.writeHead(302, { location: misbehave.redirectTo });
        res.end();
        return;
      }
      json({
        issuer: misbehave.discoveryIssuer ?? url,
        jwks_uri: misbehave.jwksUri ?? `${url}/jwks`,
        id_token_signing_alg_values_supported: ["ES256", "RS256"],
      });
    } else if (path === "/actions-token") {
      // GitHub's OIDC token request: the runner's bearer, the audience as a query parameter; {"value": jwt}.
      const audience = new URL(req.url ?? "", url).searchParams.get("audience");
      if (req.headers.authorization?.toLowerCase() !== `bearer ${actions.requestToken}`.toLowerCase() || audience === null) {
        res.writeHead(401).end();
        return;
      }
      const now = actions.nowSeconds?.() ?? Math.floor(Date.now() / 1000);
      sign({ sub: actions.subject, aud: audience, repository: "acmecorp/inventory-service", ref: "refs/heads/main" }, es256, now).then(
        (value) => json({ value }),
        () => res.writeHead(500).end(),
      );
      return;
    } else if (path === "/jwks") {
      json({ keys: [es256.publicJwk, { ...rs256.publicJwk, alg: "RS256", use: "sig" }] });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    es256,
    rs256,
    requests,
    actions,
    misbehave,
    token: (claims, options = {}) => sign(claims, options.key ?? es256, options.nowSeconds ?? Math.floor(Date.now() / 1000), options.header),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
