// 日志: a day's work in three steps — a customer (search as you type, recent ones first), the
// activities allowed at its opportunity's stage, minutes and expense — with the day's total,
// and the entry's immutability stated before it is saved (docs/DOMAIN.md §4, docs/API.md "Work log").
import { useEffect, useMemo, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction, useDebounced } from "./action.js";
import { api } from "./api.js";
import { bilingual, t } from "./i18n.js";

export function DailyLog({ me }) {
  const [catalog, setCatalog] = useState([]);
  const [worklist, setWorklist] = useState([]);
  const [entries, setEntries] = useState([]); // mine, newest first
  const [customers, setCustomers] = useState([]);
  const [query, setQuery] = useState("");
  const [customer, setCustomer] = useState(null);
  const [opportunity, setOpportunity] = useState(null);
  const [ticked, setTicked] = useState([]);
  const [minutes, setMinutes] = useState("");
  const [expense, setExpense] = useState("");
  const [note, setNote] = useState("");
  const { run, busy, error, setError } = useAction();
  const [saved, setSaved] = useState(null);
  const search = useDebounced(query.trim(), 250);

  const loadEntries = () =>
    api("GET", `/worklog/entries?author_id=${me.id}&limit=200`).then((a) => setEntries(a.items));
  useEffect(() => {
    api("GET", "/activities").then((a) => setCatalog(Array.isArray(a) ? a : a.items || [])).catch(setError);
    api("GET", "/worklist").then((a) => setWorklist(a.items || [])).catch(setError);
    loadEntries().catch(setError);
  }, []);
  useEffect(() => {
    const q = search ? `&q=${encodeURIComponent(search)}` : "";
    api("GET", `/customers?owner_id=${me.id}&limit=100${q}`)
      .then((a) => setCustomers(a.items))
      .catch(setError);
  }, [search]);

  // work dates are the organisation's (GET /me gives its date), not this browser's
  const dayTotal = entries.filter((e) => e.work_date === me.today).reduce((s, e) => s + e.minutes, 0);
  const ordered = useMemo(() => {
    const recent = [];
    for (const e of entries) if (e.customer_id && !recent.includes(e.customer_id)) recent.push(e.customer_id);
    const rank = (c) => (recent.includes(c.id) ? recent.indexOf(c.id) : recent.length);
    return [...customers].sort((a, b) => rank(a) - rank(b));
  }, [customers, entries]);
  const stage = opportunity ? opportunity.stage : null;
  const allowed = catalog.filter((a) => !a.stages || a.stages.length === 0 || !stage || a.stages.includes(stage));
  const theirs = customer ? worklist.filter((o) => o.customer_id === customer.id) : [];

  function choose(c) {
    setCustomer(c);
    setOpportunity(null);
    setTicked([]);
    setSaved(null);
  }
  const save = (event) => {
    event.preventDefault();
    const body = { activities: ticked, minutes: Number(minutes) };
    if (customer) body.customer_id = customer.id;
    if (opportunity) body.opportunity_id = opportunity.id;
    if (expense) body.expense = expense;
    if (note.trim()) body.note = note.trim();
    run(async () => {
      setSaved(await api("POST", "/worklog/entries", body));
      setTicked([]);
      setMinutes("");
      setExpense("");
      setNote("");
      await loadEntries();
    });
  };

  return html`
    <div class="log" data-testid="daily-log">
      <p class="card total" data-testid="day-total">${t("dayTotal", { minutes: dayTotal })}</p>
      <section class="card">
        <h2>1. ${t("stepCustomer")}</h2>
        <input type="search" placeholder=${t("searchCustomer")} value=${query} data-testid="customer-search"
          onInput=${(e) => setQuery(e.target.value)} />
        <ul class="choices" data-testid="customers">
          ${ordered.slice(0, 12).map((c) => html`
            <li><button type="button" class=${customer && customer.id === c.id ? "chosen" : "choice"}
              onClick=${() => choose(c)}>${c.name}</button></li>`)}
        </ul>
        ${customer && theirs.length
          ? html`<div class="choices" data-testid="opportunities">
              <label><input type="radio" name="opp" checked=${!opportunity}
                onChange=${() => { setOpportunity(null); setTicked([]); }} /> ${t("noOpportunity")}</label>
              ${theirs.map((o) => html`<label><input type="radio" name="opp" checked=${opportunity && opportunity.id === o.id}
                onChange=${() => { setOpportunity(o); setTicked([]); }} /> ${o.title} · ${bilingual(o.stage_name || o.stage)}</label>`)}
            </div>`
          : null}
      </section>
      <section class="card">
        <h2>2. ${t("stepActivities")}${stage ? html` <small>${t("atStage", { stage: bilingual(opportunity.stage_name || stage) })}</small>` : null}</h2>
        <div class="choices" data-testid="activities">
          ${allowed.map((a) => html`<label><input type="checkbox" value=${a.key} checked=${ticked.includes(a.key)}
            onChange=${(e) => setTicked(e.target.checked ? [...ticked, a.key] : ticked.filter((k) => k !== a.key))} />
            ${bilingual(a.name)}</label>`)}
        </div>
      </section>
      <form class="card" onSubmit=${save}>
        <h2>3. ${t("stepMinutes")}</h2>
        <label>${t("minutesLabel")}<input type="number" min="1" name="minutes" required value=${minutes}
          onInput=${(e) => setMinutes(e.target.value)} /></label>
        <label>${t("expenseLabel")}<input type="text" inputmode="decimal" name="expense" value=${expense}
          onInput=${(e) => setExpense(e.target.value)} /></label>
        <label>${t("noteLabel")}<input type="text" name="note" value=${note} onInput=${(e) => setNote(e.target.value)} /></label>
        <p class="warning" data-testid="immutable">${t("immutable")}</p>
        <${ErrorLine} error=${error} />
        ${saved ? html`<p class="ok" data-testid="saved">${t("saved", { minutes: saved.minutes ?? "" })}</p>` : null}
        <button type="submit" disabled=${busy || ticked.length === 0} data-testid="save">${t("save")}</button>
      </form>
    </div>`;
}
