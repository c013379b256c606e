import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CreateOrganizationClientResponseSchema,
  DeleteOrganizationClientResponseSchema,
  GetOrganizationClientResponseSchema,
  ListOrganizationClientsResponseSchema,
  type OrganizationClientService,
} from "../../gen/m2mauth/v1/clients_pb.js";
import type { ClientService } from "../clients/client-service.js";

/** createOrganizationClientRpc implements OrganizationClientService over the client service. */
export function createOrganizationClientRpc(clients: ClientService): ServiceImpl<typeof OrganizationClientService> {
  return {
    async createOrganizationClient(req) {
      const { client, plainSecret } = await clients.create(req.organizationId, req.client);
      return create(CreateOrganizationClientResponseSchema, { client, plainSecret });
    },
    async getOrganizationClient(req) {
      return create(GetOrganizationClientResponseSchema, { client: await clients.get(req.organizationId, req.clientId) });
    },
    async listOrganizationClients(req) {
      const page = await clients.list(req.organizationId, { pageSize: req.pageSize, pageToken: req.pageToken });
      return create(ListOrganizationClientsResponseSchema, page);
    },
    async deleteOrganizationClient(req) {
      await clients.delete(req.organizationId, req.clientId);
      return create(DeleteOrganizationClientResponseSchema);
    },
  };
}
