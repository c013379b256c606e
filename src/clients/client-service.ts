import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ClientRecordSchema, type ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import { CustomClaimSchema, M2MClientSchema, type ClientSecret, type M2MClient, type OrganizationClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError } from "../errors.js";
import type { ClientStore } from "../store/client-store.js";
import type { ResourceServerStore } from "../store/resource-server-store.js";
import { checkTokenLength } from "../tokens/token-size.js";
import { authorizeOrganization, checkCanManage, checkGrantable, type Caller } from "./caller.js";
import { addSecret, canAuthenticate, newClientSecret, removeSecret, withLastUsed } from "./client-secrets.js";
import { checkMask, impliedMask, mergeUpdate } from "./client-update.js";
import { checkRegisteredGrant, registryAudiences } from "./grant-rules.js";
import type { FederationPolicy } from "./federated-identities.js";
import { checkRequestId, createIdempotency, createRequestWindowMs, idempotencyKey, type CreateAnswer } from "./idempotency.js";
import { newClientId } from "./ids.js";
import type { PageTokens } from "./page-token.js";
import type { SecretHasher } from "./secret-hasher.js";
import { validateClient, validateClientId, validateOrganizationId, type ValidClient } from "./validate.js";

/** ClientPageResult is one page of ListOrganizationClients. */
export interface ClientPageResult {
  clients: M2MClient[];
  nextPageToken: string;
  totalSize: number;
}

/**
 * ClientService registers and manages an organization's API clients. REST and RPC both call it.
 * Every method first checks that the caller may act on the organization.
 */
export interface ClientService {
  /**
   * create registers a client; the plain secret is returned here and never again, except to a
   * retry: with a `requestId` (AIP-155), the same caller's same request within the window gets
   * the first answer again (`replayed`) instead of a second client (see idempotency.ts).
   */
  create(caller: Caller, organizationId: string, input: OrganizationClient | undefined, requestId?: string): Promise<CreateResult>;
  /** get returns a client of the organization; another organization's client is not found. */
  get(caller: Caller, organizationId: string, clientId: string): Promise<M2MClient>;
  /** list returns a page of the organization's clients, oldest first. */
  list(caller: Caller, organizationId: string, page: { pageSize: number; pageToken: string }): Promise<ClientPageResult>;
  /** update changes the fields in `mask` (empty: every field `input` sets); tokens issued after carry them. */
  update(caller: Caller, organizationId: string, clientId: string, input: OrganizationClient | undefined, mask: readonly string[]): Promise<M2MClient>;
  /** delete removes a client of the organization; its credentials stop working at once. */
  delete(caller: Caller, organizationId: string, clientId: string): Promise<void>;
  /** createSecret adds a secret to a client and returns it, once. */
  createSecret(caller: Caller, organizationId: string, clientId: string): Promise<{ secret: ClientSecret; plainSecret: string }>;
  /** deleteSecret removes a secret of a client; the last one cannot be removed. */
  deleteSecret(caller: Caller, organizationId: string, clientId: string, secretId: string): Promise<void>;
}

/** CreateResult is a create's answer; `replayed` when it is the kept answer of an earlier attempt. */
export interface CreateResult extends CreateAnswer {
  replayed: boolean;
}

/** ClientServiceOptions configures createClientService. */
export interface ClientServiceOptions {
  store: ClientStore;
  hasher: SecretHasher;
  pageTokens: PageTokens;
  /** issuer is the `iss` of the clients' tokens: a client whose largest token would be too long is refused. */
  issuer: string;
  /** keyEncryptionKey (M2M_KEY_ENCRYPTION_KEY) encrypts the secrets kept for retries; unset: a key derived from `hasher`'s. */
  keyEncryptionKey?: Uint8Array | undefined;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
  /** federatedIssuers (M2M_FEDERATED_ISSUERS) are the external issuers a client's federated identities may name; default none. */
  federatedIssuers?: readonly string[] | undefined;
  /** clientJwksOrigins (M2M_CLIENT_JWKS_ORIGINS) are the origins a client's jwks_uri may be on; default none. */
  clientJwksOrigins?: readonly string[] | undefined;
  /** resourceServers is the registry of APIs that bounds every grant (grant-rules.ts); unset: none is registered. */
  resourceServers?: Pick<ResourceServerStore, "lookup"> | undefined;
}

function applyValid(client: M2MClient, valid: ValidClient): void {
  client.name = valid.name;
  client.description = valid.description;
  client.customClaims = valid.customClaims.map((claim) => create(CustomClaimSchema, claim));
  client.scopes = valid.scopes;
  client.audience = valid.audience;
  client.expiry = valid.expiry;
  client.jwks = valid.jwks;
  client.jwksUri = valid.jwksUri;
  client.federatedIdentities = valid.federatedIdentities;
}

/** createClientService returns the client service over a store. */
export function createClientService(options: ClientServiceOptions): ClientService {
  const { store, hasher, pageTokens } = options;
  if (!store) throw new TypeError("createClientService: options.store is required");
  if (!hasher) throw new TypeError("createClientService: options.hasher is required");
  if (!pageTokens) throw new TypeError("createClientService: options.pageTokens is required");
  if (!options.issuer) throw new TypeError("createClientService: options.issuer is required");
  const { issuer } = options;
  const now = options.now ?? Date.now;
  const federation: FederationPolicy = { issuers: options.federatedIssuers ?? [], audience: issuer };
  const jwksOrigins = options.clientJwksOrigins ?? [];
  const idempotency = createIdempotency({ key: idempotencyKey(options.keyEncryptionKey, hasher) });
  const registry = options.resourceServers ?? { lookup: async () => ({ total: 0, servers: [] }) };
  const lookup = (audiences: readonly string[]) => registry.lookup(registryAudiences(audiences, issuer));

  const notFound = (organizationId: string, clientId: string) => new NotFoundError(`client ${clientId} not found in organization ${organizationId}`);

  function check(caller: Caller, organizationId: string, clientId?: string): void {
    validateOrganizationId(organizationId);
    if (clientId !== undefined) validateClientId(clientId);
    authorizeOrganization(caller, organizationId);
  }

  // Another organization's client is reported exactly like a missing one: ids must not leak.
  async function find(organizationId: string, clientId: string): Promise<M2MClient> {
    const record = await store.get(clientId);
    if (!record?.client || record.client.organizationId !== organizationId) throw notFound(organizationId, clientId);
    return record.client;
  }

  async function change(organizationId: string, clientId: string, apply: (record: ClientRecord) => ClientRecord): Promise<ClientRecord> {
    // store.update finds nothing for another organization's client, as find does.
    const record = await store.update(organizationId, clientId, apply);
    if (record === undefined) throw notFound(organizationId, clientId);
    return record;
  }

  // managed wraps a change so it first checks, on the record it will write, that the caller may.
  const managed = (caller: Caller, apply: (record: ClientRecord) => ClientRecord) => (record: ClientRecord) => {
    checkCanManage(caller, record.client as M2MClient);
    return apply(record);
  };

  async function withUses(clients: M2MClient[]): Promise<M2MClient[]> {
    if (clients.length === 0) return clients;
    const uses = await store.secretUse(clients.map((c) => c.clientId));
    return clients.map((client) => withLastUsed(client, uses));
  }

  return {
    async create(caller, organizationId, input, requestId = "") {
      check(caller, organizationId);
      if (requestId !== "") checkRequestId(requestId);
      const valid = validateClient(input, federation, jwksOrigins);
      checkGrantable(caller, valid.scopes);
      checkRegisteredGrant(caller, { organizationId, ...valid }, await lookup(valid.audience), issuer);
      const ms = now();
      const secret = newClientSecret(hasher, ms);
      const client = create(M2MClientSchema, {
        clientId: newClientId(organizationId),
        secrets: [secret.secret],
        organizationId,
        createTime: timestampFromMs(ms),
        updateTime: timestampFromMs(ms),
      });
      applyValid(client, valid);
      checkTokenLength(client, issuer);
      const record = create(ClientRecordSchema, { client, secretHashes: [secret.hash] });
      const answer = { client, plainSecret: secret.plainSecret };
      // 100 random bits make a taken id all but impossible; if it happens, fail rather than overwrite.
      const collision = () => new InternalError({ cause: new Error("client id collision") });
      if (requestId === "") {
        if (!(await store.create(record))) throw collision();
        return { ...answer, replayed: false };
      }
      // The check for an earlier attempt and the create are one step in the store: two attempts
      // at once, or a retry of one whose answer was lost, make one client and get one answer.
      const key = idempotency.requestKey(caller.clientId ?? "", requestId);
      const fingerprint = idempotency.fingerprint(organizationId, input);
      const kept = idempotency.seal(key, fingerprint, answer);
      const result = await store.createOnce(record, { key, bytes: kept, ttlMs: createRequestWindowMs });
      if (result.created) return { ...answer, replayed: false };
      if (result.earlier === undefined) throw collision();
      return { ...idempotency.open(key, fingerprint, result.earlier), replayed: true };
    },

    async get(caller, organizationId, clientId) {
      check(caller, organizationId, clientId);
      return (await withUses([await find(organizationId, clientId)]))[0] as M2MClient;
    },

    async list(caller, organizationId, { pageSize, pageToken }) {
      check(caller, organizationId);
      const limit = pageSize === 0 ? 10 : pageSize;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InvalidArgumentError("page_size", "must be 1 to 100");
      const cursor = pageToken === "" ? undefined : pageTokens.open(organizationId, pageToken);
      const page = await store.list(organizationId, { limit, ...(cursor === undefined ? {} : { cursor }) });
      return {
        clients: await withUses(page.records.flatMap((record) => (record.client ? [record.client] : []))),
        nextPageToken: page.cursor === undefined ? "" : pageTokens.seal(organizationId, page.cursor),
        totalSize: page.total,
      };
    },

    async update(caller, organizationId, clientId, input, mask) {
      check(caller, organizationId, clientId);
      if (input === undefined) throw new InvalidArgumentError("client", "is required");
      const paths = checkMask(mask.length > 0 ? mask : impliedMask(input));
      // The registry is read first (the change below is one synchronous step): the servers of the
      // audiences the client has and of those the update sets; any other found at write time
      // counts as unregistered, failing closed.
      const before = await find(organizationId, clientId);
      const registered = await lookup([...before.audience, ...(paths.includes("audience") ? input.audience.slice(0, 20) : [])]);
      const record = await change(
        organizationId,
        clientId,
        managed(caller, (current) => {
          const client = current.client as M2MClient;
          const valid = mergeUpdate(client, input, paths, federation, jwksOrigins);
          checkGrantable(
            caller,
            valid.scopes.filter((scope) => !client.scopes.includes(scope)),
          );
          // The client as it will be stored must satisfy the registry, not only what this update
          // sets: a grant the registry no longer allows must be dropped before any other change.
          checkRegisteredGrant(caller, { organizationId, audience: valid.audience, scopes: valid.scopes }, registered, issuer);
          applyValid(client, valid);
          // A client left with neither secrets, keys nor federated identities could never authenticate again.
          if (!canAuthenticate(client)) {
            throw new FailedPreconditionError("the client has no secret: keep jwks, a jwks_uri or a federated identity, or create a secret first");
          }
          checkTokenLength(client, issuer);
          client.updateTime = timestampFromMs(now());
          return current;
        }),
      );
      return (await withUses([record.client as M2MClient]))[0] as M2MClient;
    },

    async delete(caller, organizationId, clientId) {
      check(caller, organizationId, clientId);
      checkCanManage(caller, await find(organizationId, clientId));
      if (!(await store.delete(organizationId, clientId))) throw notFound(organizationId, clientId);
    },

    async createSecret(caller, organizationId, clientId) {
      check(caller, organizationId, clientId);
      const ms = now();
      const added = newClientSecret(hasher, ms);
      await change(organizationId, clientId, managed(caller, addSecret(added, ms)));
      return { secret: added.secret, plainSecret: added.plainSecret };
    },

    async deleteSecret(caller, organizationId, clientId, secretId) {
      check(caller, organizationId, clientId);
      if (!/^sks_[a-z2-7]{1,64}$/.test(secretId)) throw new InvalidArgumentError("secret_id", "is not a secret id");
      await change(organizationId, clientId, managed(caller, removeSecret(secretId, now())));
    },
  };
}
