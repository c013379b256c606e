import { seedClient } from "./server.js";

/** RestSecret is a client secret as REST shows it (its suffix only, never the secret). */
export interface RestSecret {
  id: string;
  create_time: string;
  update_time: string;
  secret_suffix: string;
  status: string;
  /** last_used_time is absent until the secret is first used. */
  last_used_time?: string;
}

/** RestClient is a registered client as REST shows it (snake_case, every field present). */
export interface RestClient {
  client_id: string;
  secrets: RestSecret[];
  name: string;
  description: string;
  organization_id: string;
  create_time: string;
  update_time: string;
  scopes: string[];
  audience: string[];
  custom_claims: { key: string; value: string }[];
  expiry: number;
}

/**
 * RestBody is a management answer's body as the tests read it: the fields of each answer the API gives, each typed as
 * there. Which of them an answer has follows from its route and status (a client, a page of clients, a new secret, an
 * error); a test reads only those, and its assertions are what check them.
 */
export interface RestBody {
  /** client: create, get and update. */
  client: RestClient;
  /** plain_secret: create, and add a secret; shown once. */
  plain_secret: string;
  /** secret: add a secret. */
  secret: RestSecret;
  /** clients, total_size, next_page_token (`""` on the last page): list. */
  clients: RestClient[];
  total_size: number;
  next_page_token: string;
  /** code and message: an error. */
  code: string;
  message: string;
}

/** ApiAnswer is a REST answer: its status and parsed JSON body. */
export interface ApiAnswer {
  status: number;
  json: RestBody;
}

/** RegisteredClient is a client registered over REST, with its one plain secret. */
export interface RegisteredClient {
  id: string;
  secret: string;
  client: RestClient;
}

/** ManagementApi calls a test server's REST management API (`/api/v1/organizations/…`) as one bearer. */
export interface ManagementApi {
  /** call sends `method path` (after `/api/v1/organizations/`), with a JSON body if given. */
  call(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** register creates a client in `organizationId` (the seed walk-through's by default); it throws unless 201. */
  register(organizationId: string, body?: object): Promise<RegisteredClient>;
  /** listAll reads every page of an organization's clients and returns their ids in order, and the pages' sizes. */
  listAll(organizationId: string, pageSize: number): Promise<{ ids: string[]; pageSizes: number[]; totals: number[] }>;
}

/** managementApi returns a ManagementApi on the server at `url`, authorized by `token`. */
export function managementApi(url: string, token: string): ManagementApi {
  const call = async (method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await fetch(`${url}/api/v1/organizations/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as RestBody };
  };
  return {
    call,
    async register(organizationId, body = seedClient) {
      const res = await call("POST", `${organizationId}/clients`, body);
      if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${JSON.stringify(res.json)}`);
      return { id: res.json.client.client_id, secret: res.json.plain_secret, client: res.json.client };
    },
    async listAll(organizationId, pageSize) {
      const ids: string[] = [];
      const pageSizes: number[] = [];
      const totals: number[] = [];
      let pageToken = "";
      do {
        const query = `page_size=${pageSize}${pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ""}`;
        const page = await call("GET", `${organizationId}/clients?${query}`);
        if (page.status !== 200) throw new Error(`list failed: ${page.status} ${JSON.stringify(page.json)}`);
        ids.push(...page.json.clients.map((client) => client.client_id));
        pageSizes.push(page.json.clients.length);
        totals.push(page.json.total_size);
        pageToken = page.json.next_page_token;
      } while (pageToken !== "");
      return { ids, pageSizes, totals };
    },
  };
}

/**
 * registerSeedApi registers the seed client's audience and scopes as an API (POST
 * /api/v1/resource-servers), which an organization's admin needs before it may grant them.
 */
export async function registerSeedApi(url: string, envAdminToken: string): Promise<void> {
  const res = await fetch(`${url}/api/v1/resource-servers`, {
    method: "POST",
    headers: { authorization: `Bearer ${envAdminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ audience: seedClient.audience[0], name: "Deployment API", scopes: seedClient.scopes.map((name) => ({ name })) }),
  });
  if (res.status !== 201) throw new Error(`API registration failed: ${res.status} ${await res.text()}`);
}
