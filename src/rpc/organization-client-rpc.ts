import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CreateOrganizationClientResponseSchema,
  CreateOrganizationClientSecretResponseSchema,
  DeleteOrganizationClientResponseSchema,
  DeleteOrganizationClientSecretResponseSchema,
  GetOrganizationClientResponseSchema,
  ListOrganizationClientsResponseSchema,
  UpdateOrganizationClientResponseSchema,
  type OrganizationClientService,
} from "../../gen/m2mauth/v1/clients_pb.js";
import type { ClientService } from "../clients/client-service.js";
import { callerOf } from "./caller.js";

/** createOrganizationClientRpc implements OrganizationClientService over the client service. */
export function createOrganizationClientRpc(clients: ClientService): ServiceImpl<typeof OrganizationClientService> {
  return {
    async createOrganizationClient(req, ctx) {
      const { client, plainSecret, replayed } = await clients.create(callerOf(ctx), req.organizationId, req.client, req.requestId);
      // The only copy of a secret: no cache may keep it (RFC 6749 §5.1 asks the same of tokens).
      ctx.responseHeader.set("cache-control", "no-store");
      // A retry's answer is the first one, replayed (the header Stripe's idempotent API sends too).
      if (replayed) ctx.responseHeader.set("idempotent-replayed", "true");
      return create(CreateOrganizationClientResponseSchema, { client, plainSecret });
    },
    async getOrganizationClient(req, ctx) {
      return create(GetOrganizationClientResponseSchema, { client: await clients.get(callerOf(ctx), req.organizationId, req.clientId) });
    },
    async listOrganizationClients(req, ctx) {
      const page = await clients.list(callerOf(ctx), req.organizationId, { pageSize: req.pageSize, pageToken: req.pageToken });
      return create(ListOrganizationClientsResponseSchema, page);
    },
    async updateOrganizationClient(req, ctx) {
      const mask = req.updateMask?.paths ?? [];
      const client = await clients.update(callerOf(ctx), req.organizationId, req.clientId, req.client, mask);
      return create(UpdateOrganizationClientResponseSchema, { client });
    },
    async deleteOrganizationClient(req, ctx) {
      await clients.delete(callerOf(ctx), req.organizationId, req.clientId);
      return create(DeleteOrganizationClientResponseSchema);
    },
    async createOrganizationClientSecret(req, ctx) {
      const { secret, plainSecret } = await clients.createSecret(callerOf(ctx), req.organizationId, req.clientId);
      ctx.responseHeader.set("cache-control", "no-store");
      return create(CreateOrganizationClientSecretResponseSchema, { secret, plainSecret });
    },
    async deleteOrganizationClientSecret(req, ctx) {
      await clients.deleteSecret(callerOf(ctx), req.organizationId, req.clientId, req.secretId);
      return create(DeleteOrganizationClientSecretResponseSchema);
    },
  };
}
