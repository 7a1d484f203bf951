// Placeholder while the screen is being built (this session).
import { html } from "htm/preact";

export function Performance() {
  return html`<p class="muted">…</p>`;
}
