// 报警: the group-wide board of open alarms, raising one (with the pool's suggestions), an
// alarm with its responses, responding, and 方法有效 — shown to the requester alone
// (docs/API.md "Alarms and experience"; docs/DOMAIN.md §6).
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction } from "./action.js";
import { api } from "./api.js";
import { bilingual, lang, t } from "./i18n.js";

function when(iso) {
  return iso ? new Date(iso).toLocaleString(lang() === "en" ? "en-GB" : "zh-CN") : "";
}

function Raise({ categories, onRaised }) {
  const [form, setForm] = useState({ category: "", description: "", analysis: "" });
  const { run, busy, error } = useAction();
  const field = (name) => (event) => setForm({ ...form, [name]: event.target.value });
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      const raised = await api("POST", "/alarms", form);
      setForm({ category: "", description: "", analysis: "" });
      onRaised(raised);
    });
  };
  return html`
    <form class="card" onSubmit=${submit} data-testid="raise">
      <h2>${t("raiseAlarm")}</h2>
      <label>${t("category")}<select name="category" required value=${form.category} onChange=${field("category")}>
        <option value="">—</option>
        ${categories.map((c) => html`<option value=${c.key}>${bilingual(c.name)}</option>`)}
      </select></label>
      <label>${t("description")}<textarea name="description" required rows="3" value=${form.description}
        onInput=${field("description")}></textarea></label>
      <label>${t("analysis")}<textarea name="analysis" rows="2" value=${form.analysis} onInput=${field("analysis")}></textarea></label>
      <${ErrorLine} error=${error} />
      <button type="submit" disabled=${busy}>${t("raise")}</button>
    </form>`;
}

function Alarm({ id, me, onChanged }) {
  const [alarm, setAlarm] = useState(null);
  const [body, setBody] = useState("");
  const [error, setError] = useState(null);
  const load = () => api("GET", `/alarms/${id}`).then(setAlarm).catch(setError);
  useEffect(() => {
    setAlarm(null);
    load();
  }, [id]);
  async function act(method, path, payload) {
    setError(null);
    try {
      await api(method, path, payload);
      await load();
      onChanged();
      return true;
    } catch (exc) {
      setError(exc);
      return false;
    }
  }
  if (!alarm) return html`<div class="card"><${ErrorLine} error=${error} /><p class="loading">${t("loading")}</p></div>`;
  const mine = alarm.requester_id === me.id;
  const open = alarm.status === "open";
  return html`
    <section class="card alarm" data-testid="alarm">
      <h2>${alarm.description}</h2>
      <p class="muted">${alarm.requester_name || ""} · ${when(alarm.raised_at)} ·
        <span data-testid="alarm-status">${open ? t("statusOpen") : t("statusResolved")}</span></p>
      ${alarm.analysis ? html`<p>${alarm.analysis}</p>` : null}
      ${open && mine && (alarm.suggestions || []).length
        ? html`<div data-testid="suggestions"><h3>${t("suggestions")}</h3><ul>
            ${alarm.suggestions.map((s) => html`<li><span class="title">${s.title || s.problem}</span>
              <span class="muted">${s.method}</span>
              <button type="button" class="small" onClick=${() => act("POST", `/alarms/${id}/suggestions/${s.experience_id}/effective`)}>
                ${t("effective")}</button></li>`)}
          </ul></div>`
        : null}
      <h3>${t("responsesTitle")}</h3>
      <ul data-testid="responses">
        ${(alarm.responses || []).map((r) => html`
          <li data-testid="response">
            <span class="title">${r.body}</span>
            <span class="muted">${r.author_name || r.author_id} · ${when(r.posted_at)}</span>
            ${r.effective ? html`<span class="tag ok">${t("markedEffective")}</span>` : null}
            ${open && mine
              ? html`<button type="button" class="small" data-testid="mark-effective"
                  onClick=${() => act("POST", `/alarms/${id}/responses/${r.id}/effective`)}>${t("effective")}</button>`
              : null}
          </li>`)}
      </ul>
      ${open
        ? html`<form onSubmit=${async (e) => { e.preventDefault(); if (await act("POST", `/alarms/${id}/responses`, { body })) setBody(""); }}>
            <label>${t("respond")}<textarea name="body" rows="2" required value=${body}
              onInput=${(e) => setBody(e.target.value)}></textarea></label>
            <button type="submit">${t("send")}</button>
          </form>`
        : null}
      <${ErrorLine} error=${error} />
    </section>`;
}

export function Alarms({ me }) {
  const [categories, setCategories] = useState([]);
  const [board, setBoard] = useState(null);
  const [chosen, setChosen] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api("GET", "/alarms?status=open&limit=100").then((a) => setBoard(a.items)).catch(setError);
  useEffect(() => {
    api("GET", "/alarm-categories").then((a) => setCategories(a.items)).catch(setError);
    load();
  }, []);
  return html`
    <div class="alarms" data-testid="alarms">
      <${ErrorLine} error=${error} />
      <div class="split">
        <section class="card" data-testid="board">
          <h2>${t("alarmBoard")} ${board ? html`<small>${board.length}</small>` : null}</h2>
          ${board === null ? html`<p class="loading">${t("loading")}</p>` : board.length === 0
            ? html`<p class="muted">${t("none")}</p>`
            : html`<ul>${board.map((a) => html`<li>
                <button type="button" class=${chosen === a.id ? "chosen" : "choice"} onClick=${() => setChosen(a.id)}>
                  ${a.description}</button>
                <span class="muted">${a.requester_name || ""} · ${t("responses", { count: a.response_count || 0 })}</span>
              </li>`)}</ul>`}
        </section>
        ${chosen ? html`<${Alarm} id=${chosen} me=${me} onChanged=${load} />` : html`<${Raise} categories=${categories}
          onRaised=${(raised) => { load(); setChosen(raised.id); }} />`}
      </div>
      ${chosen ? html`<button type="button" class="link" onClick=${() => setChosen(null)}>${t("raiseAlarm")}</button>` : null}
    </div>`;
}
