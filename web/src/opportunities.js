// 商机: the funnel (销售漏斗), the board by stage of the caller's open opportunities, each card
// counting down to its stage deadline (the colour turns as it nears), advance, win, and a loss
// only with its autopsy (死要剖尸: a reason category and an analysis); registration with the
// pipeline's qualification questions; for supervisors (level ≥ 4) the losses awaiting their
// approval (docs/API.md "Pipelines and opportunities"; docs/DOMAIN.md "Closing", "Funnel").
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction } from "./action.js";
import { api } from "./api.js";
import { Chart } from "./chart.js";
import { bilingual, register, t } from "./i18n.js";
import { countdown, urgency } from "./time.js";

register({
  zh: {
    "opp.funnel": "销售漏斗",
    "opp.scope.me": "我的",
    "opp.scope.team": "本组",
    "opp.scope.subtree": "下属全部",
    "opp.scope.group": "全集团",
    "opp.stage": "阶段",
    "opp.reached": "到达",
    "opp.inStage": "在此阶段",
    "opp.conversion": "转化率",
    "opp.medianTime": "停留中位数",
    "opp.days": "{days} 天",
    "opp.win": "赢单",
    "opp.lose": "丢单",
    "opp.autopsy": "丢单剖析（死要剖尸）",
    "opp.autopsyHint": "丢单须经上级批准；批准前商机仍在进行，时钟照走。",
    "opp.reason": "丢单原因",
    "opp.analysis": "剖析：为什么丢，下次怎么做",
    "opp.submitLoss": "提交剖析",
    "opp.cancel": "取消",
    "opp.lossPending": "丢单待审批",
    "opp.pendingLosses": "待我审批的丢单",
    "opp.approve": "批准丢单",
    "opp.reason.no_budget": "客户无预算",
    "opp.reason.no_need": "客户无需求",
  },
  en: {
    "opp.funnel": "Sales funnel",
    "opp.scope.me": "Mine",
    "opp.scope.team": "My team",
    "opp.scope.subtree": "All below me",
    "opp.scope.group": "The group",
    "opp.stage": "Stage",
    "opp.reached": "Reached",
    "opp.inStage": "In stage",
    "opp.conversion": "Conversion",
    "opp.medianTime": "Median time",
    "opp.days": "{days} days",
    "opp.win": "Won",
    "opp.lose": "Lost",
    "opp.autopsy": "Loss autopsy (死要剖尸)",
    "opp.autopsyHint": "A loss needs a supervisor's approval; until then the opportunity stays open and on the clock.",
    "opp.reason": "Why it was lost",
    "opp.analysis": "Analysis: why it was lost, what to do next time",
    "opp.submitLoss": "Submit the autopsy",
    "opp.cancel": "Cancel",
    "opp.lossPending": "loss awaiting approval",
    "opp.pendingLosses": "Losses awaiting my approval",
    "opp.approve": "Approve the loss",
    "opp.reason.no_budget": "No budget",
    "opp.reason.no_need": "No need",
  },
});

const SCOPES = ["me", "team", "subtree", "group"];

// An ISO 8601 duration ("P3DT4H30M") in days, one decimal.
function days(duration) {
  if (!duration) return "—";
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(duration);
  if (!m) return duration;
  const [d, h, min, sec] = m.slice(1).map((x) => Number(x || 0));
  return t("opp.days", { days: (d + h / 24 + min / 1440 + sec / 86400).toFixed(1) });
}

function Funnel({ me, pipeline }) {
  const [scope, setScope] = useState("me");
  const [funnel, setFunnel] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    api("GET", `/funnel?scope=${scope}&pipeline_id=${pipeline.id}`)
      .then(setFunnel)
      .catch((exc) => {
        setFunnel(null);
        setError(exc);
      });
  }, [scope]);
  const stages = funnel ? funnel.stages : [];
  const reached = (s) => s.reached ?? s.count;
  const shown = stages.filter((s) => reached(s) > 0);
  const option = {
    tooltip: { trigger: "item", formatter: "{b}: {c}" },
    series: [{
      type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "8%", gap: 2,
      label: { show: true, position: "inside", formatter: "{b} {c}" },
      data: stages.map((s) => ({ name: bilingual(s.name || s.key), value: reached(s) })),
    }],
  };
  const scopes = SCOPES.filter((s) => s === "me" || me.level >= 3);
  return html`
    <section class="card funnel" data-testid="funnel">
      <h2>${t("opp.funnel")}
        <select aria-label=${t("opp.funnel")} value=${scope} onChange=${(e) => setScope(e.target.value)}>
          ${scopes.map((s) => html`<option value=${s}>${t(`opp.scope.${s}`)}</option>`)}
        </select></h2>
      <${ErrorLine} error=${error} />
      ${funnel ? html`
        <${Chart} testid="funnel-chart" option=${option} points=${shown.length} height=${260} />
        <table class="figures-table" data-testid="funnel-table">
          <thead><tr><th>${t("opp.stage")}</th><th>${t("opp.reached")}</th><th>${t("opp.inStage")}</th>
            <th>${t("amount")}</th><th>${t("opp.conversion")}</th><th>${t("opp.medianTime")}</th></tr></thead>
          <tbody>${stages.map((s) => html`<tr>
            <td>${bilingual(s.name || s.key)}</td><td>${reached(s)}</td><td>${s.count}</td><td>¥${s.amount}</td>
            <td>${s.conversion == null ? "—" : `${Math.round(s.conversion * 100)}%`}</td>
            <td>${days(s.median_time_in_stage)}</td></tr>`)}</tbody>
        </table>` : null}
    </section>`;
}

// 死要剖尸: a loss is only submitted with a reason category and an analysis.
function Autopsy({ item, reasons, onDone, onCancel }) {
  const [form, setForm] = useState({ reason: "", analysis: "" });
  const { run, busy, error } = useAction();
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      await api("POST", `/opportunities/${item.id}/lose`, form);
      onDone();
    });
  };
  return html`
    <form class="autopsy" onSubmit=${submit} data-testid="autopsy">
      <strong>${t("opp.autopsy")}</strong>
      <p class="muted">${t("opp.autopsyHint")}</p>
      <label>${t("opp.reason")}<select name="reason" value=${form.reason}
        onChange=${(e) => setForm({ ...form, reason: e.target.value })}>
        <option value="">—</option>
        ${reasons.map((r) => html`<option value=${r.key}>${r.name}</option>`)}
      </select></label>
      <label>${t("opp.analysis")}<textarea name="analysis" rows="3" value=${form.analysis}
        onInput=${(e) => setForm({ ...form, analysis: e.target.value })}></textarea></label>
      <${ErrorLine} error=${error} labels=${{ reason: t("opp.reason"), analysis: t("opp.analysis") }} />
      <span class="actions">
        <button type="submit" class="small" disabled=${busy}>${t("opp.submitLoss")}</button>
        <button type="button" class="small link" onClick=${onCancel}>${t("opp.cancel")}</button>
      </span>
    </form>`;
}

// A supervisor's queue: the losses below them awaiting approval, each with its autopsy.
function PendingLosses({ me, reasonName, onChanged }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const load = () =>
    api("GET", "/opportunities?status=loss_pending&limit=200")
      .then((a) => setItems(a.items.filter((o) => o.holder_id !== me.id)))
      .catch(setError);
  useEffect(() => {
    load();
  }, []);
  async function approve(item) {
    setError(null);
    try {
      await api("POST", `/opportunities/${item.id}/lose/approve`, {});
      await load();
      onChanged();
    } catch (exc) {
      setError(exc);
    }
  }
  return html`
    <section class="card" data-testid="pending-losses">
      <h2>${t("opp.pendingLosses")} <small>${items ? items.length : ""}</small></h2>
      <${ErrorLine} error=${error} />
      ${items && items.length === 0 ? html`<p class="muted">${t("none")}</p>` : null}
      <ul>${(items || []).map((o) => html`
        <li data-testid="pending-loss">
          <strong class="title">${o.title}</strong>
          <span class="tag">${reasonName(o.loss_reason)}</span>
          <span class="muted">¥${o.amount}</span>
          <p class="analysis">${o.loss_analysis}</p>
          <button type="button" class="small" onClick=${() => approve(o)}>${t("opp.approve")}</button>
        </li>`)}</ul>
    </section>`;
}

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
  const [reasons, setReasons] = useState([]);
  const [losing, setLosing] = useState(null); // the card whose autopsy is open
  const [error, setError] = useState(null);
  const load = () =>
    Promise.all(["open", "loss_pending"].map((status) =>
      api("GET", `/opportunities?holder_id=${me.id}&status=${status}&limit=500`)))
      .then(([open, pending]) => setItems([...open.items, ...pending.items]))
      .catch(setError);
  useEffect(() => {
    api("GET", "/pipelines")
      .then((a) => setPipeline(a.items.find((p) => p.is_default) || a.items[0]))
      .catch(setError);
    api("GET", "/alarm-categories")
      .then((a) => setReasons([
        ...a.items.map((c) => ({ key: c.key, name: bilingual(c.name) })),
        ...["no_budget", "no_need"].map((key) => ({ key, name: t(`opp.reason.${key}`) })),
      ]))
      .catch(setError);
    load();
  }, []);
  async function act(item, action) {
    setError(null);
    try {
      await api("POST", `/opportunities/${item.id}/${action}`, {});
      await load();
    } catch (exc) {
      setError(exc);
    }
  }
  if (!pipeline || !items) {
    return error ? html`<${ErrorLine} error=${error} />` : html`<p class="loading">${t("loading")}</p>`;
  }
  const stages = pipeline.stages.slice(0, -1); // the last stage is won: closed, not on the board
  const beforeWon = stages[stages.length - 1].key;
  const mine = items.filter((o) => o.pipeline_id === pipeline.id);
  const reasonName = (key) => (reasons.find((r) => r.key === key) || { name: key }).name;
  return html`
    <div class="opportunities" data-testid="opportunities">
      <${ErrorLine} error=${error} />
      <${Funnel} me=${me} pipeline=${pipeline} />
      <div class="board" data-testid="board">
        ${stages.map((stage) => {
          const cards = mine.filter((o) => o.stage === stage.key);
          return html`<section class="column" data-testid=${`stage-${stage.key}`}>
            <h2>${bilingual(stage.name)} <small>${cards.length}</small></h2>
            ${cards.map((o) => html`
              <article class=${`opp-card ${urgency(o.stage_deadline)}`} data-testid="opportunity-card" data-id=${o.id}>
                <strong class="title">${o.title}</strong>
                <span class="muted">¥${o.amount}</span>
                <span class="countdown" data-testid="countdown">${countdown(o.stage_deadline)}</span>
                ${o.status === "loss_pending"
                  ? html`<span class="tag pending" data-testid="loss-pending">${t("opp.lossPending")} · ${reasonName(o.loss_reason)}</span>`
                  : losing === o.id
                    ? html`<${Autopsy} item=${o} reasons=${reasons} onCancel=${() => setLosing(null)}
                        onDone=${() => { setLosing(null); load(); }} />`
                    : html`<span class="actions">
                        ${o.stage === beforeWon
                          ? html`<button type="button" class="small" onClick=${() => act(o, "win")}>${t("opp.win")}</button>`
                          : html`<button type="button" class="small" onClick=${() => act(o, "advance")}>${t("advance")}</button>`}
                        <button type="button" class="small quiet" onClick=${() => setLosing(o.id)}>${t("opp.lose")}</button>
                      </span>`}
              </article>`)}
          </section>`;
        })}
      </div>
      <${Register} me=${me} pipeline=${pipeline} onRegistered=${() => load()} />
      ${me.level >= 4 ? html`<${PendingLosses} me=${me} reasonName=${reasonName} onChanged=${load} />` : null}
    </div>`;
}
