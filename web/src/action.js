// One submitted action of a form: busy while it runs, the API's refusal kept to be shown.
import { useState } from "preact/hooks";
import { html } from "htm/preact";
import { bilingual } from "./i18n.js";

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
// language. Every screen shows refusals through this.
export function ErrorLine({ error }) {
  return error ? html`<p class="error" role="alert" data-testid="error">${bilingual(error.message)}</p>` : null;
}
