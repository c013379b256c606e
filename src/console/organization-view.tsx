import { useState } from "preact/hooks";
import type { Api } from "./api.js";
import { ClientDetail } from "./client-detail.js";
import { ClientForm } from "./client-form.js";
import { ClientList } from "./client-list.js";
import type { RevealedSecret } from "./secret-panel.js";

type View = { kind: "list" } | { kind: "create" } | { kind: "client"; clientId: string };

/** OrganizationView is one organization's clients: the list, one client, or the form for a new one. */
export function OrganizationView({ api, organizationId }: { api: Api; organizationId: string }) {
  const [view, setView] = useState<View>({ kind: "list" });
  // The only copy of a new plain secret in the page: component state, gone on Dismiss or reload.
  const [revealed, setRevealed] = useState<RevealedSecret>();
  const list = () => setView({ kind: "list" });
  switch (view.kind) {
    case "list":
      return (
        <ClientList
          api={api}
          organizationId={organizationId}
          onOpen={(clientId) => setView({ kind: "client", clientId })}
          onCreate={() => setView({ kind: "create" })}
        />
      );
    case "create":
      return (
        <ClientForm
          api={api}
          organizationId={organizationId}
          onCreated={(client, secret) => {
            setRevealed({ clientId: client.clientId, secret, title: `${client.name} is registered` });
            setView({ kind: "client", clientId: client.clientId });
          }}
          onUpdated={list}
          onCancel={list}
        />
      );
    case "client":
      return (
        <ClientDetail
          key={view.clientId}
          api={api}
          organizationId={organizationId}
          clientId={view.clientId}
          revealed={revealed}
          onReveal={setRevealed}
          onBack={() => (setRevealed(undefined), list())}
        />
      );
  }
}
