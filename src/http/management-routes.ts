import { create, fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import {
  CreateOrganizationClientRequestSchema,
  CreateOrganizationClientResponseSchema,
  GetOrganizationClientResponseSchema,
  ListOrganizationClientsResponseSchema,
  OrganizationClientSchema,
  OrganizationClientService,
} from "../../gen/m2mauth/v1/clients_pb.js";
import { mediaType, readBody, sendJson, type HttpRequest, type HttpResponse } from "./exchange.js";

// The REST routes are a thin adapter: each one calls the same RPC, in process, through a router
// transport that runs the server's own interceptors. REST and RPC therefore share one
// authorization path (the auth interceptor), one validation, and one error mapping.

const jsonWrite = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;
const clientsPath = /^\/api\/v1\/organizations\/([^/]+)\/clients(?:\/([^/]+))?\/?$/;

/** ManagementRoutes handles `/api/v1/organizations/{organization_id}/clients[/{client_id}]`. */
export type ManagementRoutes = (req: HttpRequest, res: HttpResponse, url: URL) => Promise<boolean>;

function segment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ConnectError("malformed path segment", Code.InvalidArgument);
  }
}

async function jsonBody<Desc extends DescMessage>(req: HttpRequest, schema: Desc): Promise<MessageShape<Desc>> {
  if (mediaType(req) !== "application/json") throw new ConnectError("content type must be application/json", Code.InvalidArgument);
  let json: JsonValue;
  try {
    json = JSON.parse((await readBody(req)).toString("utf8")) as JsonValue;
  } catch (err) {
    throw new ConnectError(err instanceof ConnectError ? err.rawMessage : "request body is not valid JSON", Code.InvalidArgument);
  }
  try {
    return fromJson(schema, json);
  } catch (err) {
    throw new ConnectError(`request body: ${err instanceof Error ? err.message : "invalid"}`, Code.InvalidArgument);
  }
}

function sendError(res: HttpResponse, err: unknown): void {
  const error = ConnectError.from(err);
  const headers: Record<string, string> = {};
  const challenge = error.metadata.get("www-authenticate");
  if (challenge !== null) headers["www-authenticate"] = challenge;
  if (error.code === Code.Unavailable) headers["retry-after"] = "1";
  // Internal errors carry no detail to the caller (errors.ts made them generic already).
  sendJson(res, codeToHttpStatus(error.code), { code: codeToString(error.code), message: error.rawMessage }, headers);
}

/** createManagementRoutes returns the REST routes over an in-process transport to the RPC router. */
export function createManagementRoutes(transport: Transport): ManagementRoutes {
  const clients: Client<typeof OrganizationClientService> = createClient(OrganizationClientService, transport);
  return async (req, res, url) => {
    const match = clientsPath.exec(url.pathname);
    if (!match) return false;
    try {
      const organizationId = segment(match[1] as string);
      const clientId = match[2] === undefined ? undefined : segment(match[2]);
      const headers = req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization };
      const call = { headers };
      if (clientId === undefined && req.method === "POST") {
        const client = await jsonBody(req, OrganizationClientSchema);
        const request = create(CreateOrganizationClientRequestSchema, { organizationId, client });
        const response = await clients.createOrganizationClient(request, call);
        sendJson(res, 201, toJson(CreateOrganizationClientResponseSchema, response, jsonWrite));
      } else if (clientId === undefined && req.method === "GET") {
        const pageSize = url.searchParams.get("page_size") ?? "0";
        if (!/^\d{1,3}$/.test(pageSize)) throw new ConnectError("page_size: must be 1 to 100", Code.InvalidArgument);
        const response = await clients.listOrganizationClients(
          { organizationId, pageSize: Number(pageSize), pageToken: url.searchParams.get("page_token") ?? "" },
          call,
        );
        sendJson(res, 200, toJson(ListOrganizationClientsResponseSchema, response, jsonWrite));
      } else if (clientId !== undefined && req.method === "GET") {
        const response = await clients.getOrganizationClient({ organizationId, clientId }, call);
        sendJson(res, 200, toJson(GetOrganizationClientResponseSchema, response, jsonWrite));
      } else if (clientId !== undefined && req.method === "DELETE") {
        await clients.deleteOrganizationClient({ organizationId, clientId }, call);
        sendJson(res, 200, {});
      } else {
        sendJson(res, 405, { code: "unimplemented", message: `${req.method} is not allowed here` }, { allow: clientId === undefined ? "GET, POST" : "GET, DELETE" });
      }
    } catch (err) {
      sendError(res, err);
    }
    return true;
  };
}
