import { useEffect, useState } from "preact/hooks";
import { SigningKeyStatus, type SigningKey } from "../../gen/m2mauth/v1/keys_pb.js";
import { problemOf, type Api } from "./api.js";
import { ConfirmDialog } from "./confirm-dialog.js";
import { ErrorLine, formatTime } from "./ui.js";

const statusNames: Record<SigningKeyStatus, string> = {
  [SigningKeyStatus.UNSPECIFIED]: "unknown",
  [SigningKeyStatus.CURRENT]: "current",
  [SigningKeyStatus.NEXT]: "next",
  [SigningKeyStatus.PREVIOUS]: "previous",
};

/** KeysView lists the issuer's signing keys and rotates them (the environment's admin only). */
export function KeysView({ api }: { api: Api }) {
  const [keys, setKeys] = useState<SigningKey[]>();
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<string>();
  const [done, setDone] = useState("");
  const load = () =>
    api.keys.listSigningKeys({}).then(
      (res) => setKeys(res.keys),
      (err: unknown) => setMessage(problemOf(err).message),
    );
  useEffect(() => void load(), [api]);
  const rotate = async () => {
    setConfirming(false);
    setMessage(undefined);
    setDone("");
    try {
      const res = await api.keys.rotateSigningKey({});
      setDone(`Rotated: ${res.key?.kid ?? "the next key"} now signs new tokens.`);
      await load();
    } catch (err) {
      setMessage(problemOf(err).message);
    }
  };
  return (
    <section class="panel" aria-labelledby="keys-title">
      <h2 id="keys-title">Signing keys</h2>
      <p>
        Rotating makes the next key sign new tokens; the old key stays in the JWKS until every token it signed has expired, so verifiers keep accepting them.
      </p>
      <ErrorLine message={message} />
      <p role="status">{done}</p>
      <ul class="cards" aria-label="Signing keys">
        {(keys ?? []).map((k) => (
          <li key={k.kid} class="card">
            <div>
              <strong class="mono">{k.kid}</strong> <span class="badge">{statusNames[k.status]}</span> <span class="badge">{k.alg}</span>
            </div>
            <div class="hint">
              Created {formatTime(k.createTime)}
              {k.activateTime === undefined ? "" : ` · signing since ${formatTime(k.activateTime)}`}
              {k.retireTime === undefined ? "" : ` · leaves the JWKS ${formatTime(k.retireTime)}`}
            </div>
          </li>
        ))}
      </ul>
      <button type="button" onClick={() => setConfirming(true)}>
        Rotate signing key
      </button>
      {confirming ? (
        <ConfirmDialog title="Rotate the signing key?" confirmLabel="Rotate" onCancel={() => setConfirming(false)} onConfirm={() => void rotate()}>
          <p>New tokens will be signed with the next key; tokens already issued stay valid.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
