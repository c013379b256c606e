import { useState } from "preact/hooks";
import { signIn, SignInError, type Session } from "./session.js";
import { ErrorLine, useFocusOnMount } from "./ui.js";

/** SignIn takes admin (or organization admin) client credentials and gets a token with them. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (session: Session) => void; notice: string | undefined }) {
  const [clientId, setClientId] = useState("");
  const [secret, setSecret] = useState("");
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const first = useFocusOnMount<HTMLInputElement>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMessage(undefined);
    try {
      const session = await signIn(clientId.trim(), secret);
      // The secret leaves the page's memory as soon as it has been exchanged.
      setSecret("");
      onSignedIn(session);
    } catch (err) {
      setMessage(err instanceof SignInError ? `Sign-in refused: ${err.message}` : "The service could not be reached.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="narrow">
      <form class="panel" onSubmit={(e) => void submit(e)}>
        <h1>m2m-auth console</h1>
        <p class="hint">Sign in with admin client credentials: the environment's admin, or an organization's own admin client.</p>
        {notice === undefined ? null : <p role="status">{notice}</p>}
        <ErrorLine message={message} />
        <div class="field">
          <label for="sign-in-id">Client ID</label>
          <input
            id="sign-in-id"
            ref={first}
            class="mono"
            required
            autoComplete="username"
            value={clientId}
            onInput={(e) => setClientId(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="sign-in-secret">Client secret</label>
          <input
            id="sign-in-secret"
            class="mono"
            type="password"
            required
            autoComplete="current-password"
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </div>
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
