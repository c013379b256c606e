import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";

// The console is one more API client: every read and change goes through the generated Connect
// client, with the same token checks, limits and errors as any other caller.

/** Api holds the generated clients the console calls. */
export interface Api {
  clients: Client<typeof OrganizationClientService>;
  keys: Client<typeof SigningKeyService>;
}

/** createApi returns clients that send `token` and call `onUnauthenticated` when the service refuses it. */
export function createApi(token: string, onUnauthenticated: () => void): Api {
  const bearer: Interceptor = (next) => async (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      if (ConnectError.from(err).code === Code.Unauthenticated) onUnauthenticated();
      throw err;
    }
  };
  const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [bearer] });
  return { clients: createClient(OrganizationClientService, transport), keys: createClient(SigningKeyService, transport) };
}

/** Problem is what the console shows for a refused call: the message, and each bad field's own. */
export interface Problem {
  message: string;
  /** fields maps a form field (the request field's first segment: `scopes[1]` → `scopes`) to what is wrong with it. */
  fields: Record<string, string>;
}

/** problemOf reads a failed call: the service's message and its google.rpc.BadRequest field violations. */
export function problemOf(err: unknown): Problem {
  const e = ConnectError.from(err);
  const fields: Record<string, string> = {};
  for (const detail of e.findDetails(BadRequestSchema)) {
    for (const v of detail.fieldViolations) {
      const name = /^[a-z_]+/.exec(v.field)?.[0] ?? v.field;
      const where = v.field === name ? "" : `${v.field.slice(name.length)}: `;
      fields[name] = fields[name] === undefined ? `${where}${v.description}` : `${fields[name]}; ${where}${v.description}`;
    }
  }
  return { message: e.rawMessage, fields };
}
