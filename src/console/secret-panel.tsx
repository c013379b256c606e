import { useState } from "preact/hooks";
import { useFocusOnMount } from "./ui.js";

/** RevealedSecret is a plain secret the API returned once; it lives only in component state. */
export interface RevealedSecret {
  clientId: string;
  secret: string;
  /** title says where it came from: a new client, or a secret added to one. */
  title: string;
}

/**
 * SecretPanel shows a new secret exactly once: the service keeps only its hash, so after Dismiss
 * (or a reload, which loses the page's memory) nobody can read it again. Focus moves here.
 */
export function SecretPanel({ revealed, onDismiss }: { revealed: RevealedSecret; onDismiss: () => void }) {
  const ref = useFocusOnMount<HTMLElement>();
  const [copy, setCopy] = useState<"" | "copied" | "failed">("");
  const doCopy = () => {
    navigator.clipboard.writeText(revealed.secret).then(
      () => setCopy("copied"),
      () => setCopy("failed"),
    );
  };
  return (
    <section ref={ref} tabIndex={-1} class="secret-panel" aria-labelledby="secret-panel-title">
      <h2 id="secret-panel-title">{revealed.title}</h2>
      <p class="warning">
        <strong>You will not see this secret again.</strong> Copy it now and give it to the client's developers over a safe channel; the service keeps only a
        hash of it.
      </p>
      <p>
        Client ID: <code>{revealed.clientId}</code>
      </p>
      <label for="secret-value">Client secret</label>
      <div class="secret-row">
        <input
          id="secret-value"
          class="mono"
          readOnly
          value={revealed.secret}
          spellcheck={false}
          autoComplete="off"
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" onClick={doCopy}>
          Copy
        </button>
      </div>
      <p class="status" role="status">
        {copy === "copied" ? "Copied to the clipboard." : copy === "failed" ? "The browser refused to copy: select the secret and copy it by hand." : ""}
      </p>
      <button type="button" class="primary" onClick={onDismiss}>
        Dismiss
      </button>
    </section>
  );
}
