// Mixed management writes over REST and RPC (Connect JSON), and a ledger of what each answer
// acknowledged. Every client is owned by one writer, whose calls on it run one after another, so
// its expected state is exact: what the last acknowledged write left, or, for a write whose answer
// never came (the process was killed under it), either outcome.

/** Random is a seeded source of numbers in [0, 1), so a failing run can be replayed. */
export type Random = () => number;

/** seededRandom is mulberry32: small, fast, good enough to pick operations and delays. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** TrackedClient is what the acknowledged writes say of one client. */
export interface TrackedClient {
  /** owner is the writer that created it, the only one that writes to it. */
  owner: number;
  organizationId: string;
  clientId: string;
  /** live after an acknowledged create; deleted after an acknowledged delete; uncertain while a delete went unanswered. */
  state: "live" | "deleted" | "uncertain";
  /** names the record may have: the last acknowledged, plus any sent since without an answer. */
  names: Set<string>;
  /** secrets by id: present or absent as acknowledged; an unanswered delete drops its secret from here. */
  secrets: Map<string, "present" | "absent">;
}

/** Ledger counts the writes by outcome and keeps every client an answer named. */
export interface Ledger {
  clients: TrackedClient[];
  acknowledged: number;
  /** unanswered writes: the process died (or was dead) under them. */
  unanswered: number;
  /** refused rotations (failed_precondition once a rotation guard exists). */
  refusedRotations: number;
  /** rotatedKids are the kids acknowledged rotations made current. */
  rotatedKids: string[];
  /** unexpected answers (4xx other than a refused rotation): each is a test failure. */
  unexpected: string[];
  /** serial numbers names, so no two writes ever send the same one. */
  serial: number;
}

/** newLedger returns an empty ledger. */
export function newLedger(): Ledger {
  return { clients: [], acknowledged: 0, unanswered: 0, refusedRotations: 0, rotatedKids: [], unexpected: [], serial: 0 };
}

/** AnswerBody is what the writers read of an answer: a created client (REST's snake_case or RPC's camelCase), an added secret, a rotated key, an error's code. */
interface AnswerBody {
  client?: { client_id?: string; clientId?: string; secrets: { id: string }[] };
  secret?: { id: string };
  key?: { kid: string };
  code?: string;
}

interface Answer {
  status: number;
  json: AnswerBody;
}

/** Writer runs writes on the service at `url` as `token` until `stopped()`, recording each in `ledger`. */
export interface WriterOptions {
  /** id tells writers apart: each writes only to the clients it created (in any round). */
  id: number;
  url: string;
  token: string;
  organizations: readonly string[];
  ledger: Ledger;
  random: Random;
  /** rotates lets this writer rotate the signing key (one writer does, now and then). */
  rotates: boolean;
  stopped: () => boolean;
}

// Undefined when no answer came (connection refused or cut): the write may or may not have happened.
async function send(url: string, token: string, method: string, path: string, body?: unknown): Promise<Answer | undefined> {
  try {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, json: (await res.json()) as AnswerBody };
  } catch {
    return undefined;
  }
}

const rest = (organizationId: string, rest = ""): string => `/api/v1/organizations/${organizationId}/clients${rest}`;
const rpc = (method: string): string => `/m2mauth.v1.OrganizationClientService/${method}`;

/** runWriter writes until stopped; the mix: create 30%, rename 25%, add secret 15%, delete secret 10%, delete 10%, rotate 10% (else delete). */
export async function runWriter(options: WriterOptions): Promise<void> {
  const { url, token, ledger, random } = options;
  const call = (method: string, path: string, body?: unknown) => send(url, token, method, path, body);
  // An answer: 2xx acknowledged, no answer or 5xx unknown; anything else is not expected here.
  const outcome = (what: string, answer: Answer | undefined): "acked" | "unknown" | "refused" => {
    if (answer === undefined || answer.status >= 500) {
      ledger.unanswered++;
      return "unknown";
    }
    if (answer.status < 300) {
      ledger.acknowledged++;
      return "acked";
    }
    ledger.unexpected.push(`${what}: ${answer.status} ${JSON.stringify(answer.json)}`);
    return "refused";
  };
  while (!options.stopped()) {
    const live = ledger.clients.filter((client) => client.owner === options.id && client.state === "live");
    const pick = random();
    const client = live[Math.floor(random() * live.length)];
    const viaRpc = random() < 0.5;
    if (pick < 0.3 || client === undefined) {
      const organizationId = options.organizations[Math.floor(random() * options.organizations.length)]!;
      const body = { name: `client ${++ledger.serial}`, scopes: ["read:things"], audience: ["https://api.example.com"] };
      const answer = viaRpc
        ? await call("POST", rpc("CreateOrganizationClient"), { organizationId, client: body })
        : await call("POST", rest(organizationId), body);
      if (outcome("create", answer) !== "acked") continue;
      const created = answer!.json.client!;
      ledger.clients.push({
        owner: options.id,
        organizationId,
        clientId: (created.clientId ?? created.client_id)!,
        state: "live",
        names: new Set([body.name]),
        secrets: new Map([[created.secrets[0]!.id, "present"]]),
      });
    } else if (pick < 0.55) {
      const name = `renamed ${++ledger.serial}`;
      client.names.add(name);
      const { organizationId, clientId } = client;
      const answer = viaRpc
        ? await call("POST", rpc("UpdateOrganizationClient"), { organizationId, clientId, client: { name }, updateMask: "name" })
        : await call("PATCH", rest(organizationId, `/${clientId}`), { name });
      if (outcome("rename", answer) === "acked") client.names = new Set([name]);
    } else if (pick < 0.7) {
      // A client holds at most 5 secrets, and an add left unanswered by a kill may have made one
      // more than the ledger knows: stay well under the limit.
      if ([...client.secrets.values()].filter((state) => state === "present").length >= 3) continue;
      const answer = await call("POST", rest(client.organizationId, `/${client.clientId}/secrets`));
      if (outcome("add secret", answer) === "acked") client.secrets.set(answer!.json.secret!.id, "present");
    } else if (pick < 0.8) {
      const present = [...client.secrets].filter(([, state]) => state === "present").map(([id]) => id);
      // The last secret cannot be deleted; one added without an answer may exist, so keep two known.
      if (present.length < 2) continue;
      const secretId = present[0]!;
      const answer = await call("DELETE", rest(client.organizationId, `/${client.clientId}/secrets/${secretId}`));
      const result = outcome("delete secret", answer);
      if (result === "acked") client.secrets.set(secretId, "absent");
      else if (result === "unknown") client.secrets.delete(secretId);
    } else if (pick < 0.9 || !options.rotates) {
      const { organizationId, clientId } = client;
      client.state = "uncertain";
      const answer = viaRpc
        ? await call("POST", rpc("DeleteOrganizationClient"), { organizationId, clientId })
        : await call("DELETE", rest(organizationId, `/${clientId}`));
      if (outcome("delete", answer) === "acked") client.state = "deleted";
    } else {
      const answer = await call("POST", "/m2mauth.v1.SigningKeyService/RotateSigningKey", { force: true });
      // A rotation guard refuses quick successive rotations (failed_precondition): that is no failure.
      if (answer !== undefined && answer.status === 400 && answer.json?.code === "failed_precondition") ledger.refusedRotations++;
      else if (outcome("rotate", answer) === "acked") ledger.rotatedKids.push(answer!.json.key!.kid);
    }
  }
}
