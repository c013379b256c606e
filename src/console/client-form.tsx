import type { MessageInitShape } from "@bufbuild/protobuf";
import type { M2MClient, OrganizationClientSchema } from "../../gen/m2mauth/v1/clients_pb.js";
import { useState } from "preact/hooks";
import { problemOf, type Api } from "./api.js";
import { ErrorLine, Field, useFocusOnMount } from "./ui.js";

// Registering or editing a client. The form checks only what the API calls required (a name, an
// audience); everything else is the API's to judge, and its answer is shown beside the field.

interface Values {
  name: string;
  description: string;
  scopes: string;
  audience: string;
  expiry: string;
  claims: string;
}

const words = (text: string): string[] => text.split(/[\s,]+/).filter((w) => w !== "");

function valuesOf(c: M2MClient | undefined): Values {
  if (c === undefined) return { name: "", description: "", scopes: "", audience: "", expiry: "", claims: "" };
  return {
    name: c.name,
    description: c.description,
    scopes: c.scopes.join(" "),
    audience: c.audience.join(" "),
    expiry: String(c.expiry),
    claims: c.customClaims.map(({ key, value }) => `${key}=${value}`).join("\n"),
  };
}

// One `key=value` a line; the value may hold `=`. A line without `=` is a key with an empty value,
// for the API to judge.
function claimsOf(text: string): { key: string; value: string }[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const at = line.indexOf("=");
      return at < 0 ? { key: line.trim(), value: "" } : { key: line.slice(0, at).trim(), value: line.slice(at + 1) };
    });
}

function messageOf(v: Values): MessageInitShape<typeof OrganizationClientSchema> {
  return {
    name: v.name,
    description: v.description,
    scopes: words(v.scopes),
    audience: words(v.audience),
    // Empty means the service's default lifetime (0 on the wire).
    expiry: v.expiry.trim() === "" ? 0 : Number(v.expiry),
    customClaims: claimsOf(v.claims),
  };
}

// The update mask names what the operator changed (AIP-134), in the proto's field names.
const maskPaths: Record<keyof Values, string> = {
  name: "name",
  description: "description",
  scopes: "scopes",
  audience: "audience",
  expiry: "expiry",
  claims: "custom_claims",
};

/** ClientForm creates a client (then `onCreated` gets its only plain secret) or edits `client`. */
export function ClientForm(props: {
  api: Api;
  organizationId: string;
  client?: M2MClient | undefined;
  onCreated: (client: M2MClient, plainSecret: string) => void;
  onUpdated: (client: M2MClient) => void;
  onCancel: () => void;
}) {
  const initial = valuesOf(props.client);
  const [v, setV] = useState<Values>(initial);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const editing = props.client !== undefined;
  const set = (key: keyof Values) => (e: { currentTarget: { value: string } }) => setV({ ...v, [key]: e.currentTarget.value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setMessage(undefined);
    // The one thing the wire cannot carry: an int32 that is not a number. Its range is the API's to judge.
    if (!/^\s*\d*\s*$/.test(v.expiry)) return setFields({ expiry: "a whole number of seconds" });
    setFields({});
    setBusy(true);
    try {
      if (props.client === undefined) {
        // request_id makes a retried create (a double click, a lost answer) register one client (AIP-155).
        const res = await props.api.clients.createOrganizationClient({
          organizationId: props.organizationId,
          client: messageOf(v),
          requestId: crypto.randomUUID(),
        });
        if (res.client !== undefined) props.onCreated(res.client, res.plainSecret);
      } else {
        const paths = (Object.keys(maskPaths) as (keyof Values)[]).filter((k) => v[k] !== initial[k]).map((k) => maskPaths[k]);
        if (paths.length === 0) return props.onCancel();
        const res = await props.api.clients.updateOrganizationClient({
          organizationId: props.organizationId,
          clientId: props.client.clientId,
          client: messageOf(v),
          updateMask: { paths },
        });
        if (res.client !== undefined) props.onUpdated(res.client);
      }
    } catch (err) {
      const problem = problemOf(err);
      setFields(problem.fields);
      setMessage(problem.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" onSubmit={(e) => void submit(e)} noValidate={false}>
      <h2 ref={heading} tabIndex={-1}>
        {editing ? `Edit ${props.client?.name ?? ""}` : "New client"}
      </h2>
      <ErrorLine message={message} />
      <Field id="f-name" label="Name" error={fields["name"]}>
        {(d) => (
          <input
            id="f-name"
            required
            maxLength={128}
            value={v.name}
            onInput={set("name")}
            aria-describedby={d || undefined}
            aria-invalid={fields["name"] !== undefined}
          />
        )}
      </Field>
      <Field id="f-description" label="Description" error={fields["description"]}>
        {(d) => <textarea id="f-description" rows={2} value={v.description} onInput={set("description")} aria-describedby={d || undefined} />}
      </Field>
      <Field id="f-scopes" label="Scopes" hint="Separated by spaces, e.g. deploy:applications read:deployments" error={fields["scopes"]}>
        {(d) => (
          <input id="f-scopes" class="mono" value={v.scopes} onInput={set("scopes")} aria-describedby={d} aria-invalid={fields["scopes"] !== undefined} />
        )}
      </Field>
      <Field id="f-audience" label="Audience" hint="The APIs the tokens are for (aud), separated by spaces" error={fields["audience"]}>
        {(d) => (
          <input
            id="f-audience"
            class="mono"
            required
            value={v.audience}
            onInput={set("audience")}
            aria-describedby={d}
            aria-invalid={fields["audience"] !== undefined}
          />
        )}
      </Field>
      <Field id="f-expiry" label="Token lifetime (seconds)" hint="60 to 86400; empty for the default, 3600" error={fields["expiry"]}>
        {(d) => (
          <input
            id="f-expiry"
            inputMode="numeric"
            value={v.expiry}
            onInput={set("expiry")}
            aria-describedby={d}
            aria-invalid={fields["expiry"] !== undefined}
          />
        )}
      </Field>
      <Field id="f-claims" label="Custom claims" hint="One key=value a line, copied into every token" error={fields["custom_claims"]}>
        {(d) => (
          <textarea
            id="f-claims"
            class="mono"
            rows={3}
            value={v.claims}
            onInput={set("claims")}
            aria-describedby={d}
            aria-invalid={fields["custom_claims"] !== undefined}
          />
        )}
      </Field>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {editing ? "Save" : "Create client"}
        </button>
      </div>
    </form>
  );
}
