// 管理分析 (level ≥ 4): the fake-report analysis by stage and by person (level ≥ 5), the
// resignation early warnings (level ≥ 5) and the trainee screening (level ≥ 4) of the caller's
// scope. Each section asks the API on its own: a section the caller's level may not see shows
// the API's refusal (docs/API.md "Scoring"; docs/DOMAIN.md §5).
import { useEffect, useMemo, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine } from "./action.js";
import { api } from "./api.js";
import { COLORS, Chart } from "./chart.js";
import { bilingual, lang, register, t } from "./i18n.js";
import { visibleUsers } from "./performance.js";
import "./management.css";

register({
  zh: {
    "mgmt.scope": "分析范围",
    "mgmt.team": "我的团队",
    "mgmt.subtree": "全部下属",
    "mgmt.group": "全集团",
    "mgmt.fake": "虚假日报分析",
    "mgmt.fakeRange": "{from} 至 {to}",
    "mgmt.byStage": "按商机阶段",
    "mgmt.byUser": "按人员",
    "mgmt.noStage": "未关联商机",
    "mgmt.stage": "阶段",
    "mgmt.entries": "日志",
    "mgmt.suspicious": "可疑",
    "mgmt.provenFalse": "查实虚假",
    "mgmt.share": "可疑占比",
    "mgmt.shareValue": "占比 {share}",
    "mgmt.indicators": "各项指标命中",
    "mgmt.ind.over_16h": "单日超过 16 小时",
    "mgmt.ind.implausible_activity": "活动与阶段不符",
    "mgmt.ind.late": "补录超过宽限时间",
    "mgmt.ind.confiscated_without_progress": "被没收且无进展",
    "mgmt.ind.expense_outlier": "费用异常",
    "mgmt.warnings": "离职预警",
    "mgmt.risk": "风险",
    "mgmt.riskValue": "风险 {risk}",
    "mgmt.noReasons": "无预警信号",
    "mgmt.trainees": "试用业务员筛选",
    "mgmt.days": "{days} 天",
    "mgmt.diligencePct": "勤奋度百分位",
    "mgmt.abilityPct": "能力百分位",
    "mgmt.pct": "{value}%",
    "mgmt.rec.keep": "留用",
    "mgmt.rec.watch": "观察",
    "mgmt.rec.let_go": "劝退",
    "mgmt.p20": "第 20 百分位",
    "mgmt.p50": "第 50 百分位",
  },
  en: {
    "mgmt.scope": "Scope",
    "mgmt.team": "My team",
    "mgmt.subtree": "All my people",
    "mgmt.group": "Whole group",
    "mgmt.fake": "Fake-report analysis",
    "mgmt.fakeRange": "{from} to {to}",
    "mgmt.byStage": "By opportunity stage",
    "mgmt.byUser": "By person",
    "mgmt.noStage": "No opportunity",
    "mgmt.stage": "Stage",
    "mgmt.entries": "Entries",
    "mgmt.suspicious": "Suspicious",
    "mgmt.provenFalse": "Proven false",
    "mgmt.share": "Suspicious share",
    "mgmt.shareValue": "share {share}",
    "mgmt.indicators": "Entries flagged per indicator",
    "mgmt.ind.over_16h": "Day over 16 h",
    "mgmt.ind.implausible_activity": "Activity implausible for the stage",
    "mgmt.ind.late": "Recorded after the grace hour",
    "mgmt.ind.confiscated_without_progress": "Confiscated without progress",
    "mgmt.ind.expense_outlier": "Expense outlier",
    "mgmt.warnings": "Resignation early warnings",
    "mgmt.risk": "Risk",
    "mgmt.riskValue": "risk {risk}",
    "mgmt.noReasons": "No warning signs",
    "mgmt.trainees": "Trainee screening",
    "mgmt.days": "{days} days",
    "mgmt.diligencePct": "Diligence percentile",
    "mgmt.abilityPct": "Ability percentile",
    "mgmt.pct": "{value}%",
    "mgmt.rec.keep": "Keep",
    "mgmt.rec.watch": "Watch",
    "mgmt.rec.let_go": "Let go",
    "mgmt.p20": "20th percentile",
    "mgmt.p50": "50th percentile",
  },
});

const CHART_PEOPLE = 20; // bars of the per-person charts (the lists show everyone)

const percent = (share) => (share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`);
const pct = (value) => (value === null || value === undefined ? "—" : t("mgmt.pct", { value: Number(value).toFixed(1) }));
const riskClass = (risk) => (risk >= 60 ? "high" : risk >= 30 ? "mid" : "low");
const riskColor = (risk) => (risk >= 60 ? COLORS[3] : risk >= 30 ? COLORS[1] : COLORS[2]);

// One section's answer: null while loading; the refusal kept to be shown in the section.
function useSection(path, deps) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let current = true; // the answer for a scope no longer chosen is dropped
    setData(null);
    setError(null);
    api("GET", path)
      .then((answer) => current && setData(answer))
      .catch((exc) => current && setError(exc));
    return () => {
      current = false;
    };
  }, deps);
  return { data, error };
}

function Section({ title, testid, error, loading, extra, children }) {
  return html`
    <section class="card mgmt-section" data-testid=${testid}>
      <h2>${title}${extra ? html` <small>${extra}</small>` : null}</h2>
      <${ErrorLine} error=${error} />
      ${error ? null : loading ? html`<p class="loading">${t("loading")}</p>` : children}
    </section>`;
}

function fakeOptions(stages, stageName) {
  // stages down the side (their names stay readable at phone width), the share at each entries bar
  const bar = { type: "bar", barMaxWidth: 14, barGap: "10%" };
  return {
    grid: { left: 8, right: 64, top: 32, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
    legend: { top: 0 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", inverse: true, data: stages.map((s) => stageName(s.stage)),
      axisLabel: { interval: 0, width: 96, overflow: "truncate" } },
    series: [
      { ...bar, name: t("mgmt.entries"), color: COLORS[0], data: stages.map((s) => s.entries),
        label: { show: true, position: "right", fontSize: 11,
          formatter: ({ dataIndex }) => `${stages[dataIndex].entries} · ${percent(stages[dataIndex].share)}` } },
      { ...bar, name: t("mgmt.suspicious"), color: COLORS[1], data: stages.map((s) => s.suspicious),
        label: { show: true, position: "right", fontSize: 10, formatter: ({ value }) => (value ? value : "") } },
      { ...bar, name: t("mgmt.provenFalse"), color: COLORS[3], data: stages.map((s) => s.proven_false),
        label: { show: true, position: "right", fontSize: 10, formatter: ({ value }) => (value ? value : "") } },
    ],
  };
}

function FakeReports({ scope, stageNames }) {
  const { data, error } = useSection(`/scoring/fake-reports?scope=${scope}`, [scope]);
  const stageName = (key) => (key ? bilingual(stageNames[key] || key) : t("mgmt.noStage"));
  const stages = data ? data.by_stage : [];
  const option = useMemo(() => fakeOptions(stages, stageName), [data, stageNames, lang()]);
  return html`
    <${Section} title=${t("mgmt.fake")} testid="mgmt-fake" error=${error} loading=${!data}
      extra=${data ? t("mgmt.fakeRange", { from: data.from, to: data.to }) : null}>
      ${data ? html`
        <h3>${t("mgmt.byStage")}</h3>
        <${Chart} testid="mgmt-fake-stages" option=${option} points=${stages.length}
          height=${Math.max(160, 50 * stages.length + 50)} />
        <table class="mgmt-table" data-testid="mgmt-fake-stage-table">
          <thead><tr><th>${t("mgmt.stage")}</th><th>${t("mgmt.entries")}</th><th>${t("mgmt.suspicious")}</th>
            <th>${t("mgmt.provenFalse")}</th><th>${t("mgmt.share")}</th></tr></thead>
          <tbody>${stages.map((s) => html`<tr class=${s.suspicious || s.proven_false ? "flagged" : ""}>
            <td>${stageName(s.stage)}</td><td>${s.entries}</td><td>${s.suspicious}</td><td>${s.proven_false}</td>
            <td>${percent(s.share)}</td></tr>`)}</tbody>
        </table>
        ${data.indicators
          ? html`<h3>${t("mgmt.indicators")}</h3>
            <ul class="mgmt-indicators" data-testid="mgmt-indicators">
              ${Object.entries(data.indicators).map(([key, n]) => html`<li class=${n ? "flagged" : ""}>
                <span class="title">${t(`mgmt.ind.${key}`)}</span><b>${n}</b></li>`)}
            </ul>`
          : null}
        <h3>${t("mgmt.byUser")}</h3>
        ${data.by_user.length === 0
          ? html`<p class="muted">${t("none")}</p>`
          : html`<ul data-testid="mgmt-fake-users">
              ${data.by_user.map((u) => html`<li class=${u.suspicious || u.proven_false ? "flagged" : ""} data-testid="mgmt-fake-user">
                <span class="title">${u.name || u.user_id}</span>
                <span class="muted">${t("mgmt.entries")} ${u.entries}</span>
                <span class=${u.suspicious ? "tag warn" : "tag"}>${t("mgmt.suspicious")} ${u.suspicious}</span>
                <span class=${u.proven_false ? "tag bad" : "tag"}>${t("mgmt.provenFalse")} ${u.proven_false}</span>
                <span class="muted">${t("mgmt.shareValue", { share: percent(u.share) })}</span>
              </li>`)}
            </ul>`}` : null}
    </${Section}>`;
}

function warningOptions(items) {
  return {
    grid: { left: 8, right: 36, top: 8, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
    xAxis: { type: "value", min: 0, max: 100 },
    yAxis: { type: "category", inverse: true, data: items.map((i) => i.shownName), axisLabel: { interval: 0 } },
    series: [{
      name: t("mgmt.risk"), type: "bar", barMaxWidth: 18,
      label: { show: true, position: "right" },
      data: items.map((i) => ({ value: i.risk, itemStyle: { color: riskColor(i.risk) } })),
    }],
  };
}

function EarlyWarnings({ scope, names }) {
  const { data, error } = useSection(`/scoring/early-warnings?scope=${scope}`, [scope]);
  // riskiest first (the API's order; kept if it ever changes)
  const items = data
    ? data.items
      .map((i) => ({ ...i, shownName: names[i.user_id] || i.name || i.user_id }))
      .sort((a, b) => b.risk - a.risk)
    : [];
  const charted = items.slice(0, CHART_PEOPLE);
  const option = useMemo(() => warningOptions(charted), [data, names, lang()]);
  return html`
    <${Section} title=${t("mgmt.warnings")} testid="mgmt-warnings" error=${error} loading=${!data}
      extra=${data ? String(items.length) : null}>
      <${Chart} testid="mgmt-warnings-chart" option=${option} points=${charted.length}
        height=${Math.max(120, 26 * charted.length + 30)} />
      ${items.length === 0
        ? null
        : html`<ul data-testid="mgmt-warnings-list">
            ${items.map((i) => html`<li class=${`risk-${riskClass(i.risk)}`} data-testid="mgmt-warning">
              <span class="title" data-testid="mgmt-warning-name">${i.shownName}</span>
              <span class=${`tag risk ${riskClass(i.risk)}`} data-testid="mgmt-warning-risk">${t("mgmt.riskValue", { risk: i.risk })}</span>
              ${i.reasons.length
                ? html`<ul class="reasons">${i.reasons.map((r) => html`<li>${bilingual(r)}</li>`)}</ul>`
                : html`<span class="muted reasons">${t("mgmt.noReasons")}</span>`}
            </li>`)}
          </ul>`}
    </${Section}>`;
}

function traineeOptions(items) {
  const line = (value, name) => ({ xAxis: value, name, label: { formatter: name, position: "start", fontSize: 10 } });
  return {
    grid: { left: 8, right: 24, top: 52, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
    legend: { top: 0 },
    xAxis: { type: "value", min: 0, max: 100 },
    yAxis: { type: "category", inverse: true, data: items.map((i) => i.shownName), axisLabel: { interval: 0 } },
    series: [
      { name: t("mgmt.diligencePct"), type: "bar", color: COLORS[0], barMaxWidth: 14,
        data: items.map((i) => i.diligence_percentile),
        markLine: { symbol: "none", silent: true, lineStyle: { color: COLORS[5], type: "dashed" },
          data: [line(20, t("mgmt.p20")), line(50, t("mgmt.p50"))] } },
      { name: t("mgmt.abilityPct"), type: "bar", color: COLORS[1], barMaxWidth: 14,
        data: items.map((i) => i.ability_percentile) },
    ],
  };
}

function Trainees({ scope, names }) {
  const { data, error } = useSection(`/scoring/trainees?scope=${scope}`, [scope]);
  const items = data ? data.items.map((i) => ({ ...i, shownName: names[i.user_id] || i.name || i.user_id })) : [];
  const charted = items.slice(0, CHART_PEOPLE);
  const option = useMemo(() => traineeOptions(charted), [data, names, lang()]);
  return html`
    <${Section} title=${t("mgmt.trainees")} testid="mgmt-trainees" error=${error} loading=${!data}
      extra=${data ? String(items.length) : null}>
      <${Chart} testid="mgmt-trainees-chart" option=${option} points=${charted.length}
        height=${Math.max(140, 44 * charted.length + 60)} />
      ${items.length === 0
        ? null
        : html`<ul data-testid="mgmt-trainees-list">
            ${items.map((i) => html`<li data-testid="mgmt-trainee" class=${`rec-${i.recommendation}`}>
              <span class="title" data-testid="mgmt-trainee-name">${i.shownName}</span>
              <span class=${`tag rec ${i.recommendation}`} data-testid="mgmt-trainee-rec">${t(`mgmt.rec.${i.recommendation}`)}</span>
              <span class="muted">${t("mgmt.days", { days: i.days })} · ${t("mgmt.diligencePct")} ${pct(i.diligence_percentile)}
                · ${t("mgmt.abilityPct")} ${pct(i.ability_percentile)}</span>
              <ul class="reasons">${i.reasons.map((r) => html`<li>${bilingual(r)}</li>`)}</ul>
            </li>`)}
          </ul>`}
    </${Section}>`;
}

export function Management({ me }) {
  const [scope, setScope] = useState("subtree");
  const [names, setNames] = useState({});
  const [stageNames, setStageNames] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {
    visibleUsers()
      .then((users) => setNames(Object.fromEntries(users.map((u) => [u.id, u.name]))))
      .catch(setError);
    api("GET", "/pipelines?limit=500")
      .then((a) => {
        const known = {};
        for (const pipeline of a.items) for (const s of pipeline.stages || []) known[s.key] ??= s.name;
        setStageNames(known);
      })
      .catch(setError);
  }, []);
  const scopes = [["team", t("mgmt.team")], ["subtree", t("mgmt.subtree")]];
  if (me.level >= 8) scopes.push(["group", t("mgmt.group")]);
  return html`
    <div class="management" data-testid="management">
      <div class="mgmt-bar">
        <span class="muted">${t("mgmt.scope")}</span>
        <div class="segmented" role="group" data-testid="mgmt-scope">
          ${scopes.map(([key, text]) => html`<button type="button" class=${scope === key ? "chosen" : "choice"}
            aria-pressed=${scope === key} data-value=${key} onClick=${() => setScope(key)}>${text}</button>`)}
        </div>
      </div>
      <${ErrorLine} error=${error} />
      <${FakeReports} scope=${scope} stageNames=${stageNames} />
      <${EarlyWarnings} scope=${scope} names=${names} />
      <${Trainees} scope=${scope} names=${names} />
    </div>`;
}
