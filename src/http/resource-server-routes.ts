import { create, toJson } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  CreateResourceServerResponseSchema,
  DeleteResourceServerResponseSchema,
  GetResourceServerResponseSchema,
  ListResourceServersResponseSchema,
  ResourceServerSchema,
  ResourceServerService,
  UpdateResourceServerResponseSchema,
} from "../../gen/m2mauth/v1/resource_servers_pb.js";
import { sendJson } from "./exchange.js";
import { sendMethodNotAllowed, sendRestError } from "./http-errors.js";
import type { ManagementRoutes } from "./management-routes.js";
import { messageFromJson, pathSegment, readJsonObject, restJsonWrite } from "./rest-json.js";

// `/api/v1/resource-servers[/{id}]`: the same thin adapter as management-routes.ts, each route
// one call of ResourceServerService through the in-process transport (the same interceptors,
// validation and error mapping as RPC), the same JSON (snake_case, every field present).

const noStore = { "cache-control": "no-store" };
/** resourceServersPath matches the registry routes: `/api/v1/resource-servers[/{id}]`. */
export const resourceServersPath = /^\/api\/v1\/resource-servers(?:\/([^/]+))?\/?$/;

// `?force=true` (or false); anything else is a mistake to say, not a silent false.
function force(url: URL): boolean {
  const value = url.searchParams.get("force") ?? "false";
  if (value !== "true" && value !== "false") throw new ConnectError("force: must be true or false", Code.InvalidArgument);
  return value === "true";
}

/** createResourceServerRoutes returns the REST routes of the registry over an in-process transport to the RPC router. */
export function createResourceServerRoutes(transport: Transport): ManagementRoutes {
  const servers = createClient(ResourceServerService, transport);
  return async (req, res, url) => {
    const match = resourceServersPath.exec(url.pathname);
    if (!match) return false;
    try {
      const id = match[1] === undefined ? undefined : pathSegment(match[1]);
      const call = { headers: req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization } };
      switch (`${req.method} ${id === undefined ? "collection" : "item"}`) {
        case "POST collection": {
          const resourceServer = messageFromJson(ResourceServerSchema, await readJsonObject(req));
          const response = await servers.createResourceServer({ resourceServer }, call);
          sendJson(res, 201, toJson(CreateResourceServerResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "GET collection": {
          const pageSize = url.searchParams.get("page_size") ?? "0";
          if (!/^\d{1,3}$/.test(pageSize)) throw new ConnectError("page_size: must be 1 to 100", Code.InvalidArgument);
          const response = await servers.listResourceServers({ pageSize: Number(pageSize), pageToken: url.searchParams.get("page_token") ?? "" }, call);
          sendJson(res, 200, toJson(ListResourceServersResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "GET item": {
          const response = await servers.getResourceServer({ id: id as string }, call);
          sendJson(res, 200, toJson(GetResourceServerResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "PATCH item": {
          // As for clients: the body's keys are the update mask.
          const body = await readJsonObject(req);
          const resourceServer = messageFromJson(ResourceServerSchema, body);
          const updateMask = create(FieldMaskSchema, { paths: Object.keys(body) });
          if (updateMask.paths.length === 0) throw new ConnectError("request body names no field to update", Code.InvalidArgument);
          const response = await servers.updateResourceServer({ id: id as string, resourceServer, updateMask, force: force(url) }, call);
          sendJson(res, 200, toJson(UpdateResourceServerResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        case "DELETE item": {
          const response = await servers.deleteResourceServer({ id: id as string, force: force(url) }, call);
          sendJson(res, 200, toJson(DeleteResourceServerResponseSchema, response, restJsonWrite), noStore);
          break;
        }
        default:
          sendMethodNotAllowed(res, req.method, id === undefined ? "GET, POST" : "GET, PATCH, DELETE");
      }
    } catch (err) {
      sendRestError(res, err);
    }
    return true;
  };
}
