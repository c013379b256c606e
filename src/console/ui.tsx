import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";

// The small pieces every view shares: focus on arrival, times, and the error line.

/**
 * useFocusOnMount focuses the element once it is shown, so keyboard and screen-reader users land
 * on it. A layout effect, run in the task that inserts it: an effect would run after a paint, in
 * which the element is on screen while focus is still where it was (a keypress there goes astray).
 */
export function useFocusOnMount<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useLayoutEffect(() => ref.current?.focus(), []);
  return ref;
}

/** formatTime shows a timestamp in the reader's locale, or a dash when unset. */
export function formatTime(t: Timestamp | undefined, unset = "—"): string {
  return t === undefined ? unset : timestampDate(t).toLocaleString();
}

/** ErrorLine is a refusal the service explained, announced to screen readers as it appears. */
export function ErrorLine({ message }: { message: string | undefined }) {
  if (message === undefined || message === "") return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** Field is a labelled input with its hint and the API's complaint about it, tied by aria-describedby. */
export function Field(props: { id: string; label: string; hint?: string; error?: string | undefined; children: (describedBy: string) => ComponentChildren }) {
  const describedBy = [props.hint === undefined ? "" : `${props.id}-hint`, props.error === undefined ? "" : `${props.id}-error`]
    .filter((s) => s !== "")
    .join(" ");
  return (
    <div class={props.error === undefined ? "field" : "field invalid"}>
      <label for={props.id}>{props.label}</label>
      {props.children(describedBy)}
      {props.hint === undefined ? null : (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error === undefined ? null : (
        <p class="field-error" id={`${props.id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}
