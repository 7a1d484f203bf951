// Placeholder while the screen is being built (this session).
import { html } from "htm/preact";

export function Care() {
  return html`<p class="muted">…</p>`;
}
