import { useEffect, useMemo, useState } from "preact/hooks";
import { createApi } from "./api.js";
import { KeysView } from "./keys-view.js";
import { OrganizationPicker } from "./organization-picker.js";
import { OrganizationView } from "./organization-view.js";
import type { Session } from "./session.js";
import { SignIn } from "./sign-in.js";

/** App is the console: signed out, the sign-in form; signed in, an organization's clients or the signing keys. */
export function App() {
  const [session, setSession] = useState<Session>();
  const [notice, setNotice] = useState<string>();
  const signOut = (why?: string) => {
    setSession(undefined);
    setNotice(why);
  };
  if (session === undefined) return <SignIn notice={notice} onSignedIn={(s) => (setNotice(undefined), setSession(s))} />;
  return <Console key={session.token} session={session} signOut={signOut} />;
}

function Console({ session, signOut }: { session: Session; signOut: (why?: string) => void }) {
  // An organization's admin sees its own organization only (the token's `oid`): no picker.
  const fixed = session.organizationId;
  const [organizationId, setOrganizationId] = useState<string | undefined>(fixed);
  const [recent, setRecent] = useState<string[]>([]);
  const [tab, setTab] = useState<"clients" | "keys">("clients");
  const api = useMemo(() => createApi(session.token, () => signOut("Your session ended: sign in again.")), [session.token]);
  // Signed out when the token expires: after that every call would be refused anyway.
  useEffect(() => {
    const timer = setTimeout(() => signOut("Your session expired: sign in again."), Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [session.expiresAt]);
  const pick = (id: string) => {
    setOrganizationId(id);
    setRecent([id, ...recent.filter((r) => r !== id)].slice(0, 8));
    setTab("clients");
  };
  return (
    <>
      <header class="top">
        <strong>m2m-auth console</strong>
        <span class="mono who" title="Signed in as">
          {session.clientId}
          {fixed === undefined ? "" : ` · ${fixed}`}
        </span>
        <button type="button" onClick={() => signOut("Signed out.")}>
          Sign out
        </button>
      </header>
      {fixed === undefined ? (
        <nav class="tabs" aria-label="Sections">
          <button type="button" aria-current={tab === "clients" ? "page" : undefined} onClick={() => setTab("clients")}>
            Clients
          </button>
          <button type="button" aria-current={tab === "keys" ? "page" : undefined} onClick={() => setTab("keys")}>
            Signing keys
          </button>
        </nav>
      ) : null}
      <main>
        {tab === "keys" && fixed === undefined ? (
          <KeysView api={api} />
        ) : (
          <>
            {fixed === undefined ? <OrganizationPicker current={organizationId} recent={recent} onPick={pick} /> : null}
            {organizationId === undefined ? (
              <p class="hint">Open an organization to see its clients.</p>
            ) : (
              <OrganizationView key={organizationId} api={api} organizationId={organizationId} />
            )}
          </>
        )}
      </main>
    </>
  );
}
