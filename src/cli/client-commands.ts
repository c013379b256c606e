import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import {
  CreateOrganizationClientResponseSchema,
  CreateOrganizationClientSecretResponseSchema,
  GetOrganizationClientResponseSchema,
  ListOrganizationClientsResponseSchema,
  UpdateOrganizationClientResponseSchema,
  type M2MClient,
} from "../../gen/m2mauth/v1/clients_pb.js";
import { clearable, clientOf, fieldOptions, type ClientFields } from "./client-fields.js";
import { confirm, example, integer, oneOf, withApi } from "./command-kit.js";
import { clientDetail, clientRows, secretRows, shownOnce } from "./output.js";

// `clients create|list|get|update|delete` and `secrets add|delete`: OrganizationClientService,
// one flag per field of the API (clients.proto), validated by the API, whose message is printed.

const org = "org_59615193906282635";

/** addClientCommands adds `clients …` and `secrets …` to the program. */
export function addClientCommands(program: Command): void {
  const clients = example(program.command("clients").description("manage an organization's API clients"), `m2m-auth clients list --org ${org}`);

  const createCmd = fieldOptions(
    clients
      .command("create")
      .description("register a client; prints its secret once")
      .requiredOption("--org <id>", "organization id")
      .requiredOption("--name <name>", "a name people recognize"),
  ).option("--request-id <id>", "makes a retried create return the first one's client (idempotency)");
  example(createCmd, `m2m-auth clients create --org ${org} --name "Deploy bot" --scope deploy:applications --audience deployment-api.acmecorp.com`);
  createCmd.action((opts: ClientFields & { org: string; requestId?: string }, command: Command) =>
    withApi(command, async (api, { out }) => {
      const { client } = clientOf(opts);
      const created = await api.clients.createOrganizationClient({ organizationId: opts.org, client, requestId: opts.requestId ?? "" });
      out.message(CreateOrganizationClientResponseSchema, created, (m) => [...clientDetail(m.client), "", `client_secret: ${m.plainSecret}`, shownOnce]);
    }),
  );

  const listCmd = clients
    .command("list")
    .description("list an organization's clients, oldest first")
    .requiredOption("--org <id>", "organization id")
    .option("--page-size <n>", "clients per page, 1 to 100 (default 10)", integer)
    .option("--page-token <token>", "the page after a previous list's next_page_token")
    .option("--all", "follow every page");
  example(listCmd, `m2m-auth clients list --org ${org} --json`);
  listCmd.action((opts: { org: string; pageSize?: number; pageToken?: string; all?: boolean }, command: Command) =>
    withApi(command, async (api, { out }) => {
      const request = { organizationId: opts.org, pageSize: opts.pageSize ?? 0, pageToken: opts.pageToken ?? "" };
      let page = await api.clients.listOrganizationClients(request);
      const all: M2MClient[] = [...page.clients];
      while (opts.all === true && page.nextPageToken !== "") {
        page = await api.clients.listOrganizationClients({ ...request, pageToken: page.nextPageToken });
        all.push(...page.clients);
      }
      const response = create(ListOrganizationClientsResponseSchema, { clients: all, nextPageToken: page.nextPageToken, totalSize: page.totalSize });
      out.message(ListOrganizationClientsResponseSchema, response, (m) => [
        ...clientRows(m.clients),
        `${m.clients.length} of ${m.totalSize}${m.nextPageToken === "" ? "" : `; next page: --page-token ${m.nextPageToken}`}`,
      ]);
    }),
  );

  const getCmd = clients.command("get").description("show one client").argument("<client-id>").requiredOption("--org <id>", "organization id");
  example(getCmd, `m2m-auth clients get m2morg_… --org ${org}`);
  getCmd.action((clientId: string, opts: { org: string }, command: Command) =>
    withApi(command, async (api, { out }) => {
      const got = await api.clients.getOrganizationClient({ organizationId: opts.org, clientId });
      out.message(GetOrganizationClientResponseSchema, got, (m) => clientDetail(m.client));
    }),
  );

  const updateCmd = fieldOptions(
    clients
      .command("update")
      .description("change the fields given as flags (a repeatable flag replaces the whole list)")
      .argument("<client-id>")
      .requiredOption("--org <id>", "organization id")
      .option("--name <name>", "a name people recognize")
      .option("--clear <field>", `empty a field: ${Object.keys(clearable).join(", ")} (repeatable)`, oneOf(Object.keys(clearable))),
  );
  example(updateCmd, `m2m-auth clients update m2morg_… --org ${org} --scope deploy:applications --scope read:deployments`);
  updateCmd.action((clientId: string, opts: ClientFields & { org: string; clear?: string[] }, command: Command) => {
    const { client, mask } = clientOf(opts);
    // A cleared field is in the mask with its empty value; a value for it too is a contradiction.
    const cleared = [...new Set(opts.clear ?? [])];
    const both = cleared.find((field) => mask.includes(field));
    if (both !== undefined) command.error(`--clear ${both} contradicts ${clearable[both]}: give one or the other`, { exitCode: 2 });
    mask.push(...cleared);
    // An empty mask would mean "every non-default field" (AIP-134), here none: a usage error, before any call.
    if (mask.length === 0) command.error("give at least one field to change (--name, --description, --scope, --clear, …)", { exitCode: 2 });
    return withApi(command, async (api, { out }) => {
      const updated = await api.clients.updateOrganizationClient({
        organizationId: opts.org,
        clientId,
        client,
        updateMask: create(FieldMaskSchema, { paths: mask }),
      });
      out.message(UpdateOrganizationClientResponseSchema, updated, (m) => clientDetail(m.client));
    });
  });

  const deleteCmd = clients
    .command("delete")
    .description("delete a client: its tokens stop being issued at once")
    .argument("<client-id>")
    .requiredOption("--org <id>", "organization id")
    .option("--yes", "do not ask (required when stdin is not a terminal)");
  example(deleteCmd, `m2m-auth clients delete m2morg_… --org ${org} --yes`);
  deleteCmd.action((clientId: string, opts: { org: string; yes?: boolean }, command: Command) =>
    withApi(command, async (api, { out }) => {
      await confirm(`delete client ${clientId} of ${opts.org}`, opts.yes);
      await api.clients.deleteOrganizationClient({ organizationId: opts.org, clientId });
      out.line(`deleted client ${clientId}`);
    }),
  );

  const secrets = example(
    program.command("secrets").description("add or delete a client's secrets (rotation: add, deploy, delete the old)"),
    `m2m-auth secrets add m2morg_… --org ${org}`,
  );
  const addCmd = secrets.command("add").description("add a secret; prints it once").argument("<client-id>").requiredOption("--org <id>", "organization id");
  example(addCmd, `m2m-auth secrets add m2morg_… --org ${org}`);
  addCmd.action((clientId: string, opts: { org: string }, command: Command) =>
    withApi(command, async (api, { out }) => {
      const added = await api.clients.createOrganizationClientSecret({ organizationId: opts.org, clientId });
      out.message(CreateOrganizationClientSecretResponseSchema, added, (m) => [
        ...secretRows(m.secret === undefined ? [] : [m.secret]),
        "",
        `client_secret: ${m.plainSecret}`,
        shownOnce,
      ]);
    }),
  );

  const removeCmd = secrets
    .command("delete")
    .description("delete a secret: it stops authenticating at once")
    .argument("<client-id>")
    .argument("<secret-id>")
    .requiredOption("--org <id>", "organization id")
    .option("--yes", "do not ask (required when stdin is not a terminal)");
  example(removeCmd, `m2m-auth secrets delete m2morg_… sks_… --org ${org} --yes`);
  removeCmd.action((clientId: string, secretId: string, opts: { org: string; yes?: boolean }, command: Command) =>
    withApi(command, async (api, { out }) => {
      await confirm(`delete secret ${secretId} of client ${clientId}`, opts.yes);
      await api.clients.deleteOrganizationClientSecret({ organizationId: opts.org, clientId, secretId });
      out.line(`deleted secret ${secretId}`);
    }),
  );
}
