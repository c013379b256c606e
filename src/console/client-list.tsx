import { useEffect, useState } from "preact/hooks";
import type { M2MClient } from "../../gen/m2mauth/v1/clients_pb.js";
import { problemOf, type Api } from "./api.js";
import { ErrorLine, formatTime } from "./ui.js";

const pageSize = 20;

/**
 * ClientList pages through an organization's clients (page_token, oldest first). The filter box
 * narrows the loaded page by name or id in the page itself: the API has no search.
 */
export function ClientList(props: { api: Api; organizationId: string; onOpen: (clientId: string) => void; onCreate: () => void }) {
  const { api, organizationId } = props;
  // tokens[i] opens page i; the first page needs none.
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState(0);
  const [clients, setClients] = useState<M2MClient[]>();
  const [next, setNext] = useState("");
  const [total, setTotal] = useState(0);
  const [filter, setFilter] = useState("");
  const [message, setMessage] = useState<string>();

  useEffect(() => {
    setTokens([""]);
    setPage(0);
  }, [organizationId]);
  useEffect(() => {
    let current = true;
    setMessage(undefined);
    api.clients.listOrganizationClients({ organizationId, pageSize, pageToken: tokens[page] ?? "" }).then(
      (res) => {
        if (!current) return;
        setClients(res.clients);
        setNext(res.nextPageToken);
        setTotal(res.totalSize);
      },
      (err: unknown) => current && (setClients([]), setMessage(problemOf(err).message)),
    );
    return () => void (current = false);
  }, [api, organizationId, page, tokens]);

  const needle = filter.trim().toLowerCase();
  const shown = (clients ?? []).filter((c) => needle === "" || c.name.toLowerCase().includes(needle) || c.clientId.toLowerCase().includes(needle));
  const goNext = () => {
    setTokens([...tokens.slice(0, page + 1), next]);
    setPage(page + 1);
  };
  return (
    <section class="panel" aria-labelledby="clients-title">
      <div class="row">
        <h2 id="clients-title">Clients</h2>
        <button type="button" class="primary" onClick={props.onCreate}>
          New client
        </button>
      </div>
      <label for="client-filter">Filter this page by name or ID</label>
      <input id="client-filter" type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      <ErrorLine message={message} />
      {clients === undefined ? (
        <p role="status">Loading…</p>
      ) : (
        <ul class="cards" aria-label="Clients on this page">
          {shown.map((c) => (
            <li key={c.clientId} class="card">
              <button type="button" class="link" onClick={() => props.onOpen(c.clientId)}>
                {c.name}
              </button>
              <div class="mono hint">{c.clientId}</div>
              <div class="hint">
                {c.scopes.join(" ") || "no scopes"} · created {formatTime(c.createTime)}
              </div>
            </li>
          ))}
          {shown.length === 0 ? <li class="hint">{clients.length === 0 ? "No clients yet." : "No client on this page matches."}</li> : null}
        </ul>
      )}
      <nav class="row" aria-label="Pages">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
          Previous
        </button>
        <span role="status">
          Page {page + 1} · {total} client{total === 1 ? "" : "s"}
        </span>
        <button type="button" disabled={next === ""} onClick={goNext}>
          Next
        </button>
      </nav>
    </section>
  );
}
