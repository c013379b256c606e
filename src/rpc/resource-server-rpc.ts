import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CreateResourceServerResponseSchema,
  DeleteResourceServerResponseSchema,
  GetResourceServerResponseSchema,
  ListResourceServersResponseSchema,
  UpdateResourceServerResponseSchema,
  type ResourceServerService as ResourceServerRpc,
} from "../../gen/m2mauth/v1/resource_servers_pb.js";
import type { ResourceServerService } from "../clients/resource-server-service.js";
import { callerOf } from "./caller.js";

/** createResourceServerRpc implements ResourceServerService over the registry's service. */
export function createResourceServerRpc(servers: ResourceServerService): ServiceImpl<typeof ResourceServerRpc> {
  return {
    async createResourceServer(req, ctx) {
      return create(CreateResourceServerResponseSchema, { resourceServer: await servers.create(callerOf(ctx), req.resourceServer) });
    },
    async getResourceServer(req, ctx) {
      return create(GetResourceServerResponseSchema, { resourceServer: await servers.get(callerOf(ctx), req.id) });
    },
    async listResourceServers(req, ctx) {
      return create(ListResourceServersResponseSchema, await servers.list(callerOf(ctx), { pageSize: req.pageSize, pageToken: req.pageToken }));
    },
    async updateResourceServer(req, ctx) {
      const resourceServer = await servers.update(callerOf(ctx), req.id, req.resourceServer, req.updateMask?.paths ?? [], req.force);
      return create(UpdateResourceServerResponseSchema, { resourceServer });
    },
    async deleteResourceServer(req, ctx) {
      return create(DeleteResourceServerResponseSchema, await servers.delete(callerOf(ctx), req.id, req.force));
    },
  };
}
