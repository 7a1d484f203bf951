// One submitted action of a form: busy while it runs, the API's refusal kept to be shown.
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { bilingual, lang } from "./i18n.js";

export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  async function run(work) {
    setBusy(true);
    setError(null);
    try {
      return await work();
    } catch (exc) {
      setError(exc);
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { run, busy, error, setError };
}

// The API's refusal (or a network failure) as the user reads it: its message in the current
// language, and under it each field's reason from `details` (named by the form's `labels`,
// field key → label, where given). Every screen shows refusals through this.
export function ErrorLine({ error, labels = {} }) {
  if (!error) return null;
  const reasons = [];
  const walk = (value, field) => {
    if (typeof value === "string") reasons.push([field, value]);
    else if (Array.isArray(value)) value.forEach((item) => walk(item, field));
    else if (value && typeof value === "object") Object.values(value).forEach((item) => walk(item, field));
  };
  Object.entries(error.details || {}).forEach(([field, value]) => walk(value, field));
  return html`<div class="error" role="alert" data-testid="error">
    <p>${bilingual(error.message)}</p>
    ${reasons.length ? html`<ul>${reasons.map(([field, text]) => html`
      <li>${labels[field] ? `${labels[field]}${lang() === "en" ? ": " : "："}` : ""}${bilingual(text)}</li>`)}</ul>` : null}
  </div>`;
}

// A value that settles: what was typed, once typing paused for `ms` (search as you type).
export function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
