import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ClientSecretStatus, type ClientSecret, type M2MClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { problemOf, type Api } from "./api.js";
import { ClientForm } from "./client-form.js";
import { ConfirmDialog } from "./confirm-dialog.js";
import { SecretPanel, type RevealedSecret } from "./secret-panel.js";
import { ErrorLine, formatTime } from "./ui.js";

type Confirm = { kind: "client" } | { kind: "secret"; secret: ClientSecret };

const list = (values: readonly string[]) => (values.length === 0 ? "—" : values.join(" "));

/** ClientDetail shows one client with its secrets, and edits, deletes, adds and removes secrets. */
export function ClientDetail(props: {
  api: Api;
  organizationId: string;
  clientId: string;
  revealed: RevealedSecret | undefined;
  onReveal: (revealed: RevealedSecret | undefined) => void;
  onBack: () => void;
}) {
  const { api, organizationId, clientId } = props;
  const [client, setClient] = useState<M2MClient>();
  const [editing, setEditing] = useState(false);
  const [confirm, setConfirm] = useState<Confirm>();
  const [message, setMessage] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);
  // Focus lands on the page's heading, unless a new secret is shown: then on the secret (SecretPanel).
  useLayoutEffect(() => {
    if (props.revealed?.clientId !== clientId) heading.current?.focus();
  }, []);

  const load = () =>
    api.clients.getOrganizationClient({ organizationId, clientId }).then(
      (res) => setClient(res.client),
      (err: unknown) => setMessage(problemOf(err).message),
    );
  useEffect(() => void load(), [organizationId, clientId]);

  const run = async (action: () => Promise<unknown>) => {
    setMessage(undefined);
    try {
      await action();
    } catch (err) {
      setMessage(problemOf(err).message);
    }
  };
  const addSecret = () =>
    run(async () => {
      const res = await api.clients.createOrganizationClientSecret({ organizationId, clientId });
      props.onReveal({ clientId, secret: res.plainSecret, title: `New secret …${res.secret?.secretSuffix ?? ""}` });
      await load();
    });
  const confirmed = () =>
    run(async () => {
      const what = confirm;
      setConfirm(undefined);
      if (what?.kind === "client") {
        await api.clients.deleteOrganizationClient({ organizationId, clientId });
        props.onReveal(undefined);
        props.onBack();
      } else if (what?.kind === "secret") {
        await api.clients.deleteOrganizationClientSecret({ organizationId, clientId, secretId: what.secret.id });
        await load();
      }
    });

  if (editing && client !== undefined) {
    return (
      <ClientForm
        api={api}
        organizationId={organizationId}
        client={client}
        onCreated={() => undefined}
        onUpdated={(c) => (setClient(c), setEditing(false))}
        onCancel={() => setEditing(false)}
      />
    );
  }
  return (
    <div class="stack">
      <p>
        <button type="button" class="link" onClick={props.onBack}>
          ← All clients
        </button>
      </p>
      {props.revealed?.clientId === clientId ? (
        <SecretPanel revealed={props.revealed} onDismiss={() => (props.onReveal(undefined), heading.current?.focus())} />
      ) : null}
      <section class="panel" aria-labelledby="client-title">
        <h2 id="client-title" ref={heading} tabIndex={-1}>
          {client?.name ?? clientId}
        </h2>
        <ErrorLine message={message} />
        {client === undefined ? null : (
          <>
            <dl class="facts">
              <dt>Client ID</dt>
              <dd class="mono">{client.clientId}</dd>
              <dt>Organization</dt>
              <dd class="mono">{client.organizationId}</dd>
              <dt>Description</dt>
              <dd>{client.description || "—"}</dd>
              <dt>Scopes</dt>
              <dd class="mono">{list(client.scopes)}</dd>
              <dt>Audience</dt>
              <dd class="mono">{list(client.audience)}</dd>
              <dt>Custom claims</dt>
              <dd class="mono">{client.customClaims.length === 0 ? "—" : client.customClaims.map((c) => <div key={c.key}>{`${c.key}=${c.value}`}</div>)}</dd>
              <dt>Token lifetime</dt>
              <dd>{client.expiry} s</dd>
              <dt>Created</dt>
              <dd>{formatTime(client.createTime)}</dd>
              <dt>Updated</dt>
              <dd>{formatTime(client.updateTime)}</dd>
            </dl>
            <div class="actions">
              <button type="button" onClick={() => setEditing(true)}>
                Edit
              </button>
              <button type="button" class="danger" onClick={() => setConfirm({ kind: "client" })}>
                Delete client
              </button>
            </div>
          </>
        )}
      </section>
      {client === undefined ? null : (
        <section class="panel" aria-labelledby="secrets-title">
          <h2 id="secrets-title">Secrets</h2>
          <p class="hint">Every active secret works. To rotate: add a secret, deploy it, then delete the old one.</p>
          <ul class="cards">
            {client.secrets.map((s) => (
              <li key={s.id} class="card">
                <div>
                  <strong class="mono">…{s.secretSuffix}</strong> <span class="badge">{ClientSecretStatus[s.status]}</span>
                </div>
                <div class="hint">
                  Created {formatTime(s.createTime)} · last used {formatTime(s.lastUsedTime, "never")}
                </div>
                <button type="button" class="danger" aria-label={`Delete secret …${s.secretSuffix}`} onClick={() => setConfirm({ kind: "secret", secret: s })}>
                  Delete
                </button>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => void addSecret()}>
            Add secret
          </button>
        </section>
      )}
      {confirm === undefined ? null : (
        <ConfirmDialog
          title={confirm.kind === "client" ? `Delete ${client?.name ?? clientId}?` : `Delete secret …${confirm.secret.secretSuffix}?`}
          confirmLabel={confirm.kind === "client" ? "Delete client" : "Delete secret"}
          onCancel={() => setConfirm(undefined)}
          onConfirm={() => void confirmed()}
        >
          <p>
            {confirm.kind === "client"
              ? "Its credentials stop working at once. This cannot be undone."
              : "Callers using this secret can no longer get tokens. This cannot be undone."}
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
