import { clone, create, equals } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ResourceServerSchema, ResourceServerScopeSchema, type ResourceServer } from "../../gen/m2mauth/v1/resource_servers_pb.js";
import { FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from "../errors.js";
import type { ClientStore } from "../store/client-store.js";
import { maxResourceServers, type ResourceServerStore } from "../store/resource-server-store.js";
import type { Caller } from "./caller.js";
import { newResourceServerId } from "./ids.js";
import type { PageTokens } from "./page-token.js";
import {
  impliedResourceServerMask,
  mergeResourceServer,
  validateResourceServer,
  validateResourceServerId,
  type ValidResourceServer,
} from "./resource-server-validate.js";

/** ResourceServerPageResult is one page of ListResourceServers. */
export interface ResourceServerPageResult {
  resourceServers: ResourceServer[];
  nextPageToken: string;
  totalSize: number;
}

/**
 * ResourceServerService manages the registry of APIs (audiences and their scopes) that clients
 * may be granted (grant-rules.ts applies it). The environment's admin only: an organization's
 * admin is refused whatever its scopes, since the registry bounds every tenant.
 */
export interface ResourceServerService {
  /** create registers an API; its audience must be free. */
  create(caller: Caller, input: ResourceServer | undefined): Promise<ResourceServer>;
  /** get returns one API. */
  get(caller: Caller, id: string): Promise<ResourceServer>;
  /** list returns a page of the registry, oldest first. */
  list(caller: Caller, page: { pageSize: number; pageToken: string }): Promise<ResourceServerPageResult>;
  /** update changes the masked fields; refused while clients hold what it removes, unless `force`. */
  update(caller: Caller, id: string, input: ResourceServer | undefined, mask: readonly string[], force: boolean): Promise<ResourceServer>;
  /** delete removes an API; refused while clients use its audience, unless `force`. Returns how many still do. */
  delete(caller: Caller, id: string, force: boolean): Promise<{ clientCount: number }>;
}

/** ResourceServerServiceOptions configures createResourceServerService. */
export interface ResourceServerServiceOptions {
  store: ResourceServerStore;
  /** clients are walked to count the clients an update or delete would strand. */
  clients: Pick<ClientStore, "walk">;
  pageTokens: PageTokens;
  /** issuer is the management API's audience, which is never registrable. */
  issuer: string;
  /** now returns the time in ms; a fake clock in tests. */
  now?: () => number;
}

// Page tokens are bound to a scope; this one can never be an organization id (those hold no `:`).
const pageScope = "resource-servers:";

function apply(server: ResourceServer, valid: ValidResourceServer): ResourceServer {
  server.name = valid.name;
  server.description = valid.description;
  server.scopes = valid.scopes.map((scope) => create(ResourceServerScopeSchema, scope));
  server.organizationIds = valid.organizationIds;
  return server;
}

/** createResourceServerService returns the registry's service over its store. */
export function createResourceServerService(options: ResourceServerServiceOptions): ResourceServerService {
  const { store, clients, pageTokens, issuer } = options;
  if (!store || !clients || !pageTokens || !issuer) throw new TypeError("createResourceServerService: store, clients, pageTokens and issuer are required");
  const now = options.now ?? Date.now;

  function authorize(caller: Caller): void {
    if (caller.organizationId !== undefined) {
      throw new PermissionDeniedError(
        `resource servers are managed by the environment's admin only; this token belongs to organization ${caller.organizationId}`,
      );
    }
  }

  async function find(id: string): Promise<ResourceServer> {
    const server = await store.get(validateResourceServerId(id));
    if (server === undefined) throw new NotFoundError(`resource server ${id} not found`);
    return server;
  }

  // The clients a change would strand: with `next` undefined (a delete) every client naming the
  // audience; else those holding a scope `next` drops, or of an organization `next` closes the API
  // to (clients let in by an earlier forced change are not counted again). No walk when nothing goes.
  async function stranded(current: ResourceServer, next?: ResourceServer): Promise<number> {
    const kept = new Set(next?.scopes.map((scope) => scope.name));
    const removed = new Set(current.scopes.map((scope) => scope.name).filter((name) => !kept.has(name)));
    const opens = (server: ResourceServer, organizationId: string) => server.organizationIds.length === 0 || server.organizationIds.includes(organizationId);
    const narrowed =
      next !== undefined && next.organizationIds.length > 0 && (current.organizationIds.length === 0 || current.organizationIds.some((id) => !opens(next, id)));
    if (next !== undefined && removed.size === 0 && !narrowed) return 0;
    let count = 0;
    await clients.walk((record) => {
      const client = record.client;
      if (client === undefined || !client.audience.includes(current.audience)) return;
      if (next === undefined) return void count++;
      const closed = opens(current, client.organizationId) && !opens(next, client.organizationId);
      if (client.scopes.some((scope) => removed.has(scope)) || closed) count++;
    });
    return count;
  }

  return {
    async create(caller, input) {
      authorize(caller);
      const valid = validateResourceServer(input, issuer);
      const time = timestampFromMs(now());
      const server = apply(create(ResourceServerSchema, { id: newResourceServerId(), audience: valid.audience, createTime: time, updateTime: time }), valid);
      switch (await store.create(server)) {
        case "created":
          return server;
        case "audience-taken":
          throw new InvalidArgumentError("audience", `${valid.audience} is registered already (audiences are unique)`, { reason: "AUDIENCE_REGISTERED" });
        case "full":
          throw new FailedPreconditionError(`the registry holds ${maxResourceServers} resource servers, the most it may; delete one first`);
        case "id-taken":
          // 100 random bits: all but impossible; fail rather than overwrite.
          throw new InternalError({ cause: new Error("resource server id collision") });
      }
    },

    async get(caller, id) {
      authorize(caller);
      return find(id);
    },

    async list(caller, { pageSize, pageToken }) {
      authorize(caller);
      const limit = pageSize === 0 ? 10 : pageSize;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InvalidArgumentError("page_size", "must be 1 to 100");
      const cursor = pageToken === "" ? undefined : pageTokens.open(pageScope, pageToken);
      const page = await store.list({ limit, ...(cursor === undefined ? {} : { cursor }) });
      return {
        resourceServers: page.servers,
        nextPageToken: page.cursor === undefined ? "" : pageTokens.seal(pageScope, page.cursor),
        totalSize: page.total,
      };
    },

    async update(caller, id, input, mask, force) {
      authorize(caller);
      if (input === undefined) throw new InvalidArgumentError("resource_server", "is required");
      const paths = mask.length > 0 ? mask : impliedResourceServerMask(input);
      const current = await find(id);
      const next = (server: ResourceServer) => apply(server, mergeResourceServer(server, input, paths, issuer));
      if (!force) {
        const count = await stranded(current, next(clone(ResourceServerSchema, current)));
        if (count > 0) {
          throw new FailedPreconditionError(
            `${count} client(s) of ${current.audience} hold a scope this update removes or belong to an organization it no longer allows: update them first, or pass force`,
          );
        }
      }
      const stored = await store.update(id, (latest) => {
        // The count above was of `current`: a server changed meanwhile is not updated unchecked.
        if (!force && !equals(ResourceServerSchema, latest, current)) throw new FailedPreconditionError(`resource server ${id} changed meanwhile; retry`);
        const updated = next(latest);
        updated.updateTime = timestampFromMs(now());
        return updated;
      });
      if (stored === undefined) throw new NotFoundError(`resource server ${id} not found`);
      return stored;
    },

    async delete(caller, id, force) {
      authorize(caller);
      const current = await find(id);
      const count = await stranded(current);
      if (count > 0 && !force) {
        throw new FailedPreconditionError(`${count} client(s) use ${current.audience}: update or delete them first, or delete with force`);
      }
      if (!(await store.delete(id))) throw new NotFoundError(`resource server ${id} not found`);
      return { clientCount: count };
    },
  };
}
