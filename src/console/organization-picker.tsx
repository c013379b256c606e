import { useState } from "preact/hooks";
import { organizationIdPattern } from "../rules.js";

/**
 * OrganizationPicker lets the environment's admin name an organization: the API lists no
 * organizations, so the id is typed (checked with the API's own pattern, rules.ts), and the ones
 * opened this session are offered again (kept in memory only).
 */
export function OrganizationPicker(props: { current: string | undefined; recent: readonly string[]; onPick: (organizationId: string) => void }) {
  const [value, setValue] = useState(props.current ?? "");
  const [error, setError] = useState<string>();
  const submit = (e: Event) => {
    e.preventDefault();
    const id = value.trim();
    if (!organizationIdPattern.test(id)) return setError("An organization ID is 1-64 characters of A-Z a-z 0-9 _ -.");
    setError(undefined);
    props.onPick(id);
  };
  return (
    <form class="panel org-picker" onSubmit={submit}>
      <div class="field">
        <label for="org-id">Organization ID</label>
        <div class="secret-row">
          <input
            id="org-id"
            class="mono"
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            aria-invalid={error !== undefined}
            aria-describedby={error === undefined ? undefined : "org-id-error"}
          />
          <button type="submit">Open</button>
        </div>
        {error === undefined ? null : (
          <p class="field-error" id="org-id-error">
            {error}
          </p>
        )}
      </div>
      {props.recent.length === 0 ? null : (
        <div class="recent" aria-label="Opened this session">
          {props.recent.map((id) => (
            <button type="button" key={id} class="chip mono" aria-pressed={id === props.current} onClick={() => (setValue(id), props.onPick(id))}>
              {id}
            </button>
          ))}
        </div>
      )}
    </form>
  );
}
