import { create } from "@bufbuild/protobuf";
import { OrganizationClientSchema } from "../../gen/m2mauth/v1/clients_pb.js";
import type { Caller } from "../../src/clients/caller.js";
import { createClientService } from "../../src/clients/client-service.js";
import { createPageTokens } from "../../src/clients/page-token.js";
import { createSecretHasher, loadSecretHashKey } from "../../src/clients/secret-hasher.js";
import { createRedisStore } from "../../src/store/redis-store.js";
import { announceReady, serveParent } from "../ipc.js";
import type { RegisterRequest, Registered } from "../scale/register.js";

// Registers many clients through the service's own ClientService over the server's Redis prefix,
// composed as src/server.ts composes it (same secret-hash key), so every record is exactly what
// the REST API would have stored, without paying for 100k HTTP round trips and admin checks.

// The environment's admin, as the REST API sees the bench's admin token.
const admin: Caller = { organizationId: undefined, scopes: [] };

/** seedLike is the registration body of client `i`: the seed walk-through's fields, sizes and shape. */
function seedLike(i: number) {
  const n = String(i).padStart(6, "0");
  return create(OrganizationClientSchema, {
    name: `Deployment Service ${n}`,
    description: "Client that deploys the inventory service",
    customClaims: [
      { key: "github_repository", value: `acmecorp/inventory-service-${n}` },
      { key: "environment", value: "production_us" },
    ],
    scopes: ["deploy:applications", "read:deployments"],
    audience: ["deployment-api.acmecorp.com"],
    expiry: 3600,
  });
}

/** register creates `count` clients, `concurrency` at a time, and keeps `keep` evenly spread ones' secrets. */
async function register(request: RegisterRequest): Promise<Registered> {
  const store = createRedisStore({ url: request.redisUrl, keyPrefix: request.keyPrefix });
  try {
    const hasher = createSecretHasher({ key: await loadSecretHashKey(store.state) });
    // The issuer the bench servers run with (servers/m2m.ts): it bounds the clients' token length.
    const clients = createClientService({
      store: store.clients,
      hasher,
      pageTokens: createPageTokens({ key: hasher.derive("page-token") }),
      issuer: "http://m2m-auth.bench",
    });
    const every = Math.max(1, Math.floor(request.count / Math.max(request.keep, 1)));
    const kept: Registered["kept"] = [];
    let next = 0;
    const started = performance.now();
    const lane = async () => {
      for (let i = next++; i < request.count; i = next++) {
        const { client, plainSecret } = await clients.create(admin, request.organizationId, seedLike(i));
        if (i % every === 0 && kept.length < request.keep) kept.push({ clientId: client.clientId, clientSecret: plainSecret });
      }
    };
    await Promise.all(Array.from({ length: Math.min(request.concurrency, request.count) }, lane));
    return { count: request.count, ms: performance.now() - started, kept };
  } finally {
    await store.close();
  }
}

serveParent({ register: (payload) => register(payload as RegisterRequest) });
announceReady();
