import { readFile } from "node:fs/promises";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { OrganizationClientService } from "../../gen/m2mauth/v1/clients_pb.js";
import { SigningKeyService } from "../../gen/m2mauth/v1/keys_pb.js";

// The CLI is a client of the public API like any other: the OAuth token endpoint for a token
// (client credentials, RFC 6749 §4.4), then the generated Connect clients with that token.

/** CliError is a failure the CLI reports in one line on stderr, with the exit code scripts rely on. */
export class CliError extends Error {
  constructor(
    message: string,
    /** exitCode: 1 refused, not found or failed; 2 usage. */
    readonly exitCode: 1 | 2,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Credentials are a client's id and secret, as the operator gave them. */
export interface Credentials {
  clientId: string;
  clientSecret: string;
}

/** SecretSource is how the secret was given: the value, `-` for stdin, or a file. */
export interface SecretSource {
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  clientSecretFile?: string | undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * readCredentials resolves the client id and secret. A secret on the command line lands in shell
 * history and in `ps`, so `--client-secret -` (stdin) and `--client-secret-file` are offered.
 */
export async function readCredentials(source: SecretSource): Promise<Credentials> {
  if (!source.clientId) throw new CliError("no client id: pass --client-id or set M2M_ADMIN_CLIENT_ID", 2);
  let secret = source.clientSecret;
  if (source.clientSecretFile !== undefined) {
    secret = await readFile(source.clientSecretFile, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read --client-secret-file ${source.clientSecretFile}: ${err.code ?? err.message}`, 2);
    });
  } else if (secret === "-") {
    secret = await readStdin();
  }
  // A file or a pipe usually ends in a newline that is no part of the secret.
  secret = secret?.replace(/\r?\n$/, "");
  if (!secret) throw new CliError("no client secret: pass --client-secret, --client-secret-file or set M2M_ADMIN_CLIENT_SECRET", 2);
  return { clientId: source.clientId, clientSecret: secret };
}

const networkCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);

/** networkCode finds a socket error's code (ECONNREFUSED, …) in an error's cause chain. */
function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && networkCodes.has(code)) return code;
    // AggregateError: one per address tried (127.0.0.1 and ::1 for localhost).
    if (e instanceof AggregateError) return networkCode(e.errors[0]);
  }
  return undefined;
}

/** explain turns an API or network failure into the CLI's one-line error. */
export function explain(err: unknown, url: string): CliError | undefined {
  const code = networkCode(err);
  if (code !== undefined) return new CliError(`cannot reach m2m-auth at ${url}: ${code}`, 1);
  if (err instanceof ConnectError) return new CliError(`${Code[err.code]}: ${err.rawMessage}`, 1);
  return undefined;
}

/** TokenResponse is the RFC 6749 §5.1 response, as much of it as the CLI uses. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

// RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined for Basic.
const basic = (c: Credentials) => `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString("base64")}`;

/** fetchToken gets an access token with client credentials at `url`/oauth/token. */
export async function fetchToken(url: string, credentials: Credentials, scopes: readonly string[] = []): Promise<TokenResponse> {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (scopes.length > 0) form.set("scope", scopes.join(" "));
  let response: Response;
  try {
    response = await fetch(new URL("/oauth/token", url), {
      method: "POST",
      headers: { authorization: basic(credentials), "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
  } catch (err) {
    // fetch rejects only when no response came: the network, or a URL it will not fetch (a "bad port").
    const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw explain(err, url) ?? new CliError(`cannot reach m2m-auth at ${url}: ${reason}`, 1);
  }
  const body = (await response.json().catch(() => ({}))) as Partial<TokenResponse> & { error?: string; error_description?: string };
  if (!response.ok || typeof body.access_token !== "string") {
    const reason = body.error === undefined ? `HTTP ${response.status}` : `${body.error}${body.error_description ? `: ${body.error_description}` : ""}`;
    throw new CliError(`token refused: ${reason}`, 1);
  }
  return body as TokenResponse;
}

/** Api holds the generated clients of the management services, authorized with one token. */
export interface Api {
  clients: Client<typeof OrganizationClientService>;
  keys: Client<typeof SigningKeyService>;
}

/** connectApi gets one token for this invocation and returns the services' clients using it. */
export async function connectApi(url: string, source: SecretSource): Promise<Api> {
  const { access_token: token } = await fetchToken(url, await readCredentials(source));
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [bearer] });
  return { clients: createClient(OrganizationClientService, transport), keys: createClient(SigningKeyService, transport) };
}
