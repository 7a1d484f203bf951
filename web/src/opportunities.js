// 商机: the board by stage of the caller's open opportunities, each card counting down to its
// stage deadline (the colour turns as it nears), advance; registration with the pipeline's
// qualification questions (API.md "Pipelines and opportunities").
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction } from "./action.js";
import { api } from "./api.js";
import { bilingual, t } from "./i18n.js";
import { countdown, urgency } from "./time.js";

function Register({ me, pipeline, onRegistered }) {
  const [customers, setCustomers] = useState([]);
  const [form, setForm] = useState({ customer_id: "", title: "", amount: "" });
  const [answers, setAnswers] = useState({});
  const { run, busy, error, setError } = useAction();
  useEffect(() => {
    api("GET", `/customers?owner_id=${me.id}&limit=200`).then((a) => setCustomers(a.items)).catch(setError);
  }, []);
  const questions = pipeline.qualification || [];
  const submit = (event) => {
    event.preventDefault();
    const qualification = Object.fromEntries(questions.map((q) => [q.key, Boolean(answers[q.key])]));
    run(async () => {
      const created = await api("POST", "/opportunities", {
        customer_id: form.customer_id, title: form.title, amount: form.amount,
        pipeline_id: pipeline.id, qualification,
      });
      setForm({ customer_id: "", title: "", amount: "" });
      setAnswers({});
      onRegistered(created);
    });
  };
  const field = (name) => (event) => setForm({ ...form, [name]: event.target.value });
  return html`
    <form class="card register" onSubmit=${submit} data-testid="register">
      <h2>${t("register")}</h2>
      <label>${t("customer")}<select name="customer_id" required value=${form.customer_id} onChange=${field("customer_id")}>
        <option value="">—</option>
        ${customers.map((c) => html`<option value=${c.id}>${c.name}</option>`)}
      </select></label>
      <label>${t("oppTitle")}<input name="title" required value=${form.title} onInput=${field("title")} /></label>
      <label>${t("amount")}<input name="amount" inputmode="decimal" required value=${form.amount} onInput=${field("amount")} /></label>
      <fieldset><legend>${t("qualification")}</legend>
        ${questions.map((q) => html`<label class="check"><input type="checkbox" name=${q.key} checked=${Boolean(answers[q.key])}
          onChange=${(e) => setAnswers({ ...answers, [q.key]: e.target.checked })} /> ${bilingual(q.question)}</label>`)}
      </fieldset>
      <${ErrorLine} error=${error} />
      <button type="submit" disabled=${busy}>${t("registerButton")}</button>
    </form>`;
}

export function Opportunities({ me }) {
  const [pipeline, setPipeline] = useState(null);
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const load = () =>
    api("GET", `/opportunities?holder_id=${me.id}&status=open&limit=500`)
      .then((a) => setItems(a.items))
      .catch(setError);
  useEffect(() => {
    api("GET", "/pipelines")
      .then((a) => setPipeline(a.items.find((p) => p.is_default) || a.items[0]))
      .catch(setError);
    load();
  }, []);
  async function advance(item) {
    setError(null);
    try {
      await api("POST", `/opportunities/${item.id}/advance`, {});
      await load();
    } catch (exc) {
      setError(exc);
    }
  }
  if (!pipeline || !items) {
    return error ? html`<${ErrorLine} error=${error} />`
      : html`<p class="loading">${t("loading")}</p>`;
  }
  const stages = pipeline.stages.filter((s) => s.key !== pipeline.stages[pipeline.stages.length - 1].key);
  const mine = items.filter((o) => o.pipeline_id === pipeline.id);
  return html`
    <div class="opportunities" data-testid="opportunities">
      <${ErrorLine} error=${error} />
      <div class="board" data-testid="board">
        ${stages.map((stage) => {
          const cards = mine.filter((o) => o.stage === stage.key);
          return html`<section class="column" data-testid=${`stage-${stage.key}`}>
            <h2>${bilingual(stage.name)} <small>${cards.length}</small></h2>
            ${cards.map((o) => html`
              <article class=${`opp-card ${urgency(o.stage_deadline)}`} data-testid="opportunity-card">
                <strong class="title">${o.title}</strong>
                <span class="muted">¥${o.amount}</span>
                <span class="countdown" data-testid="countdown">${countdown(o.stage_deadline)}</span>
                <button type="button" class="small" onClick=${() => advance(o)}>${t("advance")}</button>
              </article>`)}
          </section>`;
        })}
      </div>
      <${Register} me=${me} pipeline=${pipeline} onRegistered=${() => load()} />
    </div>`;
}
