// 工作台: what a salesperson opens every morning (GET /api/v1/workbench, one call; a section
// whose service is down is null and named in "unavailable").
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { api } from "./api.js";
import { bilingual, lang, t } from "./i18n.js";
import { countdown, urgency } from "./time.js";

function when(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  return at.toLocaleString(lang() === "en" ? "en-GB" : "zh-CN", {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

function Section({ title, items, testid, render, unavailable }) {
  return html`
    <section class="card" data-testid=${testid}>
      <h2>${title}${items ? html` <small>${items.length}</small>` : null}</h2>
      ${items === null || items === undefined
        ? html`<p class="muted">${unavailable ? t("sectionUnavailable") : t("none")}</p>`
        : items.length === 0
          ? html`<p class="muted">${t("none")}</p>`
          : html`<ul>${items.map(render)}</ul>`}
    </section>`;
}

const opportunity = (item) => html`
  <li class=${`opp ${urgency(item.deadline || item.stage_deadline)}`}>
    <span class="title">${item.title}</span>
    <span class="tag">${bilingual(item.stage_name || item.stage)}</span>
    ${item.probability !== undefined ? html`<span class="muted">${item.probability}%</span>` : null}
    <span class="countdown">${countdown(item.deadline || item.stage_deadline)}</span>
  </li>`;

const alarm = (item) => html`
  <li>
    <span class="title">${item.description}</span>
    <span class="muted">${item.requester_name || ""} · ${when(item.raised_at)} ·
      ${t("responses", { count: item.response_count || 0 })}</span>
  </li>`;

const reminder = (item) => html`
  <li class=${item.overdue ? "late" : ""}>
    <span class="tag">${item.date}</span> <span class="title">${bilingual(item.label)}</span>
  </li>`;

const appointment = (item) => html`
  <li><span class="tag">${when(item.at || item.next_appointment_at)}</span>
    <span class="title">${item.customer_name || item.label || item.note || ""}</span></li>`;

function Decision({ item, people, onDecided }) {
  const [assignee, setAssignee] = useState("");
  const [error, setError] = useState(null);
  const decide = async (action) => {
    setError(null);
    const body = action === "reassign" ? { action, assignee_id: assignee } : { action };
    try {
      await api("POST", `/opportunities/${item.id}/decision`, body);
      onDecided();
    } catch (exc) {
      setError(exc);
    }
  };
  return html`
    <li class=${`opp ${urgency(item.decision_deadline)}`} data-testid="decision">
      <span class="title">${item.title}</span>
      <span class="tag">${bilingual(item.stage_name || item.stage)}</span>
      <span class="countdown">${t("decideBy")} ${countdown(item.decision_deadline)}</span>
      <span class="actions">
        <button type="button" class="small" onClick=${() => decide("keep")}>${t("keep")}</button>
        <button type="button" class="small" onClick=${() => decide("return")}>${t("giveBack")}</button>
        <select aria-label=${t("reassignTo")} value=${assignee} onChange=${(e) => setAssignee(e.target.value)}>
          <option value="">${t("reassignTo")}</option>
          ${people.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
        </select>
        <button type="button" class="small" disabled=${!assignee} onClick=${() => decide("reassign")}>${t("reassign")}</button>
      </span>
      ${error ? html`<span class="error" role="alert" data-testid="error">${bilingual(error.message)}</span>` : null}
    </li>`;
}

export function Workbench({ me }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [people, setPeople] = useState([]);
  const load = () => {
    setError(null);
    api("GET", "/workbench").then(setData).catch(setError);
  };
  useEffect(load, []);
  useEffect(() => {
    if (me.level >= 4) {
      api("GET", "/users?limit=500")
        .then((a) => setPeople(a.items.filter((p) => p.level < me.level && p.active && p.id !== me.id)))
        .catch(() => setPeople([]));
    }
  }, []);
  if (error) {
    return html`<div class="card"><p class="error" role="alert" data-testid="error">${bilingual(error.message)}</p>
      <button type="button" onClick=${load}>${t("retry")}</button></div>`;
  }
  if (!data) return html`<p class="loading">${t("loading")}</p>`;
  const down = new Set(data.unavailable || []);
  const today = data.today;
  const alarms = data.alarms || {};
  return html`
    <div class="workbench" data-testid="workbench">
      ${down.size
        ? html`<p class="warning" data-testid="unavailable">${t("unavailable", { services: [...down].join(", ") })}</p>`
        : null}
      <section class="card today" data-testid="today">
        <h2>${t("today")}</h2>
        ${today
          ? html`<div class="figures">
              <div><b data-testid="today-minutes">${today.minutes}</b> ${t("minutes")}</div>
              <div><b>${Number(today.score).toFixed(1)}</b> ${t("score")}</div>
              <div><b>${today.entries}</b> ${t("entries")}</div>
              <div><b>${today.rank}/${today.of}</b> ${t("rank")}</div>
            </div>`
          : html`<p class="muted">${t("sectionUnavailable")}</p>`}
      </section>
      <${Section} title=${t("appointments")} testid="appointments" items=${data.appointments}
        render=${appointment} unavailable=${down.has("customer")} />
      <${Section} title=${t("reminders")} testid="reminders" items=${data.reminders}
        render=${reminder} unavailable=${down.has("customer")} />
      <${Section} title=${t("nearDeadline")} testid="near-deadline" items=${data.near_deadline}
        render=${opportunity} unavailable=${down.has("opportunity")} />
      <${Section} title=${t("worklist")} testid="worklist" items=${data.worklist}
        render=${opportunity} unavailable=${down.has("opportunity")} />
      <${Section} title=${t("alarmsMine")} testid="alarms-mine" items=${alarms.mine}
        render=${alarm} unavailable=${down.has("alerts")} />
      <${Section} title=${t("alarmsToHelp")} testid="alarms-to-help" items=${alarms.to_help}
        render=${alarm} unavailable=${down.has("alerts")} />
      ${me.level >= 4
        ? html`
          <${Section} title=${t("alarmsUnsupported")} testid="alarms-unsupported"
            items=${alarms.unsupported} render=${alarm} unavailable=${down.has("alerts")} />
          <${Section} title=${t("decisionsPending")} testid="decisions" items=${data.decisions_pending}
            render=${(item) => html`<${Decision} item=${item} people=${people} onDecided=${load} />`}
            unavailable=${down.has("opportunity")} />`
        : null}
      <${Section} title=${t("forecast")} testid="forecast"
        items=${data.forecast ? data.forecast.months : null} unavailable=${down.has("opportunity")}
        render=${(m) => html`<li><span class="tag">${m.month}</span>
          <span class="title">${t("weighted")} ¥${m.weighted}</span>
          <span class="muted">${m.count} ${t("count")}</span></li>`} />
    </div>`;
}
