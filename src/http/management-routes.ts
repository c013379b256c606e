import { create, toJson } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  CreateOrganizationClientResponseSchema,
  CreateOrganizationClientSecretResponseSchema,
  GetOrganizationClientResponseSchema,
  ListOrganizationClientsResponseSchema,
  OrganizationClientSchema,
  OrganizationClientService,
  UpdateOrganizationClientResponseSchema,
} from "../../gen/m2mauth/v1/clients_pb.js";
import { sendJson, type HttpRequest, type HttpResponse } from "./exchange.js";
import { sendMethodNotAllowed, sendRestError } from "./http-errors.js";
import { messageFromJson, pathSegment, readJsonObject, restJsonWrite } from "./rest-json.js";

// The REST routes are a thin adapter: each one calls the same RPC, in process, through a router
// transport that runs the server's own interceptors. REST and RPC therefore share one
// authorization path (the auth interceptor), one validation, and one error mapping.

/** ManagementRoutes handles `/api/v1/organizations/{organization_id}/clients[/{client_id}[/secrets[/{secret_id}]]]`. */
export type ManagementRoutes = (req: HttpRequest, res: HttpResponse, url: URL) => Promise<boolean>;

// Management answers are per caller and may hold a plain secret: no cache may keep them.
const noStore = { "cache-control": "no-store" };

/** clientsPath matches the clients routes: organization, client, `secrets`, secret. */
export const clientsPath = /^\/api\/v1\/organizations\/([^/]+)\/clients(?:\/([^/]+)(\/secrets(?:\/([^/]+))?)?)?\/?$/;

interface Target {
  organizationId: string;
  clientId?: string;
  secrets: boolean;
  secretId?: string;
}

function target(match: RegExpExecArray): Target {
  return {
    organizationId: pathSegment(match[1] as string),
    ...(match[2] === undefined ? {} : { clientId: pathSegment(match[2]) }),
    secrets: match[3] !== undefined,
    ...(match[4] === undefined ? {} : { secretId: pathSegment(match[4]) }),
  };
}

/**
 * idempotencyKey reads the Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header §2):
 * an RFC 8941 sf-string, `"…"`, or the bare key most clients send; the service checks its format
 * as the RPC's `request_id`. Two such headers arrive joined by a comma, which that check refuses.
 */
function idempotencyKey(header: string | string[] | undefined): string {
  if (header === undefined) return "";
  const value = Array.isArray(header) ? header.join(", ") : header.trim();
  const key = /^"[^"\\]*"$/.test(value) ? value.slice(1, -1) : value;
  // An empty key would silently mean "no key": the caller meant one.
  if (key === "") throw new ConnectError("Idempotency-Key: is empty", Code.InvalidArgument);
  return key;
}

function allowed(t: Target): string {
  if (t.secretId !== undefined) return "DELETE";
  if (t.secrets) return "POST";
  return t.clientId === undefined ? "GET, POST" : "GET, PATCH, DELETE";
}

/** createManagementRoutes returns the REST routes over an in-process transport to the RPC router. */
export function createManagementRoutes(transport: Transport): ManagementRoutes {
  const clients = createClient(OrganizationClientService, transport);
  return async (req, res, url) => {
    const match = clientsPath.exec(url.pathname);
    if (!match) return false;
    try {
      const t = target(match);
      const { organizationId } = t;
      const call = { headers: req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization } };
      const route = `${req.method} ${t.clientId === undefined ? "clients" : t.secretId !== undefined ? "secret" : t.secrets ? "secrets" : "client"}`;
      const clientId = t.clientId ?? "";
      switch (route) {
        case "POST clients": {
          const client = messageFromJson(OrganizationClientSchema, await readJsonObject(req));
          let replayed = false;
          const onHeader = (headers: Headers) => void (replayed = headers.get("idempotent-replayed") === "true");
          const requestId = idempotencyKey(req.headers["idempotency-key"]);
          const response = await clients.createOrganizationClient({ organizationId, client, requestId }, { ...call, onHeader });
          // A retry gets the first answer again, status included.
          const headers = replayed ? { ...noStore, "idempotent-replayed": "true" } : noStore;
          sendJson(res, 201, toJson(CreateOrganizationClientResponseSchema, response, restJsonWrite), headers);
          break;
        }
        case "GET clients": {
          const pageSize = url.searchParams.get("page_size") ?? "0";
          if (!/^\d{1,3}$/.test(pageSize)) throw new ConnectError("page_size: must be 1 to 100", Code.InvalidArgument);
          const pageToken = url.searchParams.get("page_token") ?? "";
          const response = await clients.listOrganizationClients({ organizationId, pageSize: Number(pageSize), pageToken }, call);
          sendJson(res, 200, toJson(ListOrganizationClientsResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "GET client": {
          const response = await clients.getOrganizationClient({ organizationId, clientId }, call);
          sendJson(res, 200, toJson(GetOrganizationClientResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "PATCH client": {
          // REST names the fields to change by sending them: the body's keys are the update mask.
          const body = await readJsonObject(req);
          const client = messageFromJson(OrganizationClientSchema, body);
          const updateMask = create(FieldMaskSchema, { paths: Object.keys(body) });
          if (updateMask.paths.length === 0) throw new ConnectError("request body names no field to update", Code.InvalidArgument);
          const response = await clients.updateOrganizationClient({ organizationId, clientId, client, updateMask }, call);
          sendJson(res, 200, toJson(UpdateOrganizationClientResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "DELETE client":
          await clients.deleteOrganizationClient({ organizationId, clientId }, call);
          sendJson(res, 200, {}, noStore);
          break;
        case "POST secrets": {
          const response = await clients.createOrganizationClientSecret({ organizationId, clientId }, call);
          sendJson(res, 201, toJson(CreateOrganizationClientSecretResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "DELETE secret":
          await clients.deleteOrganizationClientSecret({ organizationId, clientId, secretId: t.secretId ?? "" }, call);
          sendJson(res, 200, {}, noStore);
          break;
        default:
          sendMethodNotAllowed(res, req.method, allowed(t));
      }
    } catch (err) {
      sendRestError(res, err);
    }
    return true;
  };
}
