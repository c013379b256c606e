import { seedClient } from "./server.js";

/** ApiAnswer is a REST answer: its status and parsed JSON body. */
export interface ApiAnswer {
  status: number;
  json: any;
}

/** RegisteredClient is a client registered over REST, with its one plain secret. */
export interface RegisteredClient {
  id: string;
  secret: string;
  client: any;
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
    return { status: res.status, json: await res.json() };
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
        ids.push(...page.json.clients.map((client: any) => client.client_id as string));
        pageSizes.push(page.json.clients.length);
        totals.push(page.json.total_size);
        pageToken = page.json.next_page_token;
      } while (pageToken !== "");
      return { ids, pageSizes, totals };
    },
  };
}
