import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ClientRecordSchema, SecretHashSchema, type ClientRecord } from "../../gen/m2mauth/internal/v1/records_pb.js";
import {
  ClientSecretSchema,
  ClientSecretStatus,
  CustomClaimSchema,
  M2MClientSchema,
  type M2MClient,
  type OrganizationClient,
} from "../../gen/m2mauth/v1/clients_pb.js";
import { InternalError, InvalidArgumentError, NotFoundError } from "../errors.js";
import type { ClientStore } from "../store/client-store.js";
import { newClientId, newSecret, newSecretId } from "./ids.js";
import type { PageTokens } from "./page-token.js";
import type { SecretHasher } from "./secret-hasher.js";
import { validateClient, validateClientId, validateOrganizationId } from "./validate.js";

/** ClientPageResult is one page of ListOrganizationClients. */
export interface ClientPageResult {
  clients: M2MClient[];
  nextPageToken: string;
  totalSize: number;
}

/** ClientService registers and manages an organization's API clients. REST and RPC both call it. */
export interface ClientService {
  /** create registers a client; the plain secret is returned here and never again. */
  create(organizationId: string, input: OrganizationClient | undefined): Promise<{ client: M2MClient; plainSecret: string }>;
  /** get returns a client of the organization; another organization's client is not found. */
  get(organizationId: string, clientId: string): Promise<M2MClient>;
  /** list returns a page of the organization's clients, oldest first. */
  list(organizationId: string, page: { pageSize: number; pageToken: string }): Promise<ClientPageResult>;
  /** delete removes a client of the organization; its credentials stop working at once. */
  delete(organizationId: string, clientId: string): Promise<void>;
}

/** ClientServiceOptions configures createClientService. */
export interface ClientServiceOptions {
  store: ClientStore;
  hasher: SecretHasher;
  pageTokens: PageTokens;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
}

/** createClientService returns the client service over a store. */
export function createClientService(options: ClientServiceOptions): ClientService {
  const { store, hasher, pageTokens } = options;
  if (!store) throw new TypeError("createClientService: options.store is required");
  if (!hasher) throw new TypeError("createClientService: options.hasher is required");
  if (!pageTokens) throw new TypeError("createClientService: options.pageTokens is required");
  const now = options.now ?? Date.now;

  async function find(organizationId: string, clientId: string): Promise<ClientRecord> {
    validateOrganizationId(organizationId);
    validateClientId(clientId);
    const record = await store.get(clientId);
    // Another organization's client is reported exactly like a missing one: ids must not leak.
    if (!record?.client || record.client.organizationId !== organizationId) {
      throw new NotFoundError(`client ${clientId} not found in organization ${organizationId}`);
    }
    return record;
  }

  return {
    async create(organizationId, input) {
      validateOrganizationId(organizationId);
      const valid = validateClient(input);
      const time = timestampFromMs(now());
      const plainSecret = newSecret();
      const secretId = newSecretId();
      const client = create(M2MClientSchema, {
        clientId: newClientId(organizationId),
        secrets: [
          create(ClientSecretSchema, {
            id: secretId,
            createTime: time,
            updateTime: time,
            secretSuffix: plainSecret.slice(-4),
            status: ClientSecretStatus.ACTIVE,
          }),
        ],
        name: valid.name,
        description: valid.description,
        organizationId,
        createTime: time,
        updateTime: time,
        scopes: valid.scopes,
        audience: valid.audience,
        customClaims: valid.customClaims.map((claim) => create(CustomClaimSchema, claim)),
        expiry: valid.expiry,
      });
      const record = create(ClientRecordSchema, {
        client,
        secretHashes: [create(SecretHashSchema, { secretId, hash: hasher.hash(plainSecret) })],
      });
      // 100 random bits make a taken id all but impossible; if it happens, fail rather than overwrite.
      if (!(await store.create(record))) throw new InternalError({ cause: new Error("client id collision") });
      return { client, plainSecret };
    },

    async get(organizationId, clientId) {
      return (await find(organizationId, clientId)).client as M2MClient;
    },

    async list(organizationId, { pageSize, pageToken }) {
      validateOrganizationId(organizationId);
      const limit = pageSize === 0 ? 10 : pageSize;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InvalidArgumentError("page_size", "must be 1 to 100");
      const cursor = pageToken === "" ? undefined : pageTokens.open(organizationId, pageToken);
      const page = await store.list(organizationId, { limit, ...(cursor === undefined ? {} : { cursor }) });
      return {
        clients: page.records.flatMap((record) => (record.client ? [record.client] : [])),
        nextPageToken: page.cursor === undefined ? "" : pageTokens.seal(organizationId, page.cursor),
        totalSize: page.total,
      };
    },

    async delete(organizationId, clientId) {
      validateOrganizationId(organizationId);
      validateClientId(clientId);
      if (!(await store.delete(organizationId, clientId))) {
        throw new NotFoundError(`client ${clientId} not found in organization ${organizationId}`);
      }
    },
  };
}
