import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";

// A client's own key server a test starts on 127.0.0.1: what it serves at each path is set by the
// test, and every GET is counted, so a test sees what the token service fetched.

/** JwksServer is a running key server. */
export interface JwksServer {
  /** origin is http://127.0.0.1:PORT, what M2M_CLIENT_JWKS_ORIGINS lists. */
  origin: string;
  /** documents maps a path to the JWK Set it serves; a path not in it answers 404. */
  documents: Map<string, { keys: JWK[] }>;
  /** redirects maps a path to where it redirects (302), which must never be followed. */
  redirects: Map<string, string>;
  /** requests counts the GETs of each path. */
  requests: Map<string, number>;
  close(): Promise<void>;
}

/** startJwksServer starts a key server on a random loopback port. */
export async function startJwksServer(): Promise<JwksServer> {
  const documents = new Map<string, { keys: JWK[] }>();
  const redirects = new Map<string, string>();
  const requests = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "";
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const location = redirects.get(path);
    const document = documents.get(path);
    if (location !== undefined) res.writeHead(302, { location }).end();
    else if (document === undefined) res.writeHead(404).end();
    else res.writeHead(200, { "content-type": "application/jwk-set+json" }).end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    documents,
    redirects,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
