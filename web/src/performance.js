// 业绩曲线: the caller's diligence (minutes, entries) and ability (score) curves by day (the last
// 30 days) or by month (the last 12), suspicious days marked; a supervisor picks one of the
// people they see; the group's public leaderboards (docs/API.md "Scoring"; docs/DOMAIN.md §5).
import { useEffect, useMemo, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine } from "./action.js";
import { api } from "./api.js";
import { COLORS, Chart } from "./chart.js";
import { lang, register, t } from "./i18n.js";
import "./performance.css";

register({
  zh: {
    "perf.curves": "勤奋度与能力曲线",
    "perf.byDay": "按日（近 30 天）",
    "perf.byMonth": "按月（近 12 个月）",
    "perf.person": "查看人员",
    "perf.myself": "{name}（本人）",
    "perf.diligence": "勤奋度",
    "perf.ability": "能力",
    "perf.minutes": "有效分钟",
    "perf.entries": "日志条数",
    "perf.score": "能力得分",
    "perf.suspicious": "可疑",
    "perf.suspiciousDays": "可疑日：{days}",
    "perf.suspiciousMonths": "含可疑日志的月份：{days}",
    "perf.noSuspicious": "期间没有可疑日志",
    "perf.totalMinutes": "分钟合计",
    "perf.totalScore": "得分合计",
    "perf.totalEntries": "条日志",
    "perf.suspiciousEntries": "条可疑",
    "perf.leaderboard": "排行榜",
    "perf.metric": "指标",
    "perf.period": "周期",
    "perf.scope": "范围",
    "perf.day": "今日",
    "perf.week": "本周",
    "perf.month": "本月",
    "perf.team": "团队",
    "perf.branch": "分公司",
    "perf.group": "集团",
    "perf.rankOf": "我的排名：第 {rank} 名 / 共 {count} 人",
    "perf.notRanked": "我不在该榜单范围内",
    "perf.valueMinutes": "{value} 分钟",
    "perf.valueScore": "{value} 分",
    "perf.top": "前 {count} 名",
    "perf.me": "我",
  },
  en: {
    "perf.curves": "Diligence and ability curves",
    "perf.byDay": "By day (last 30 days)",
    "perf.byMonth": "By month (last 12 months)",
    "perf.person": "Person",
    "perf.myself": "{name} (me)",
    "perf.diligence": "Diligence",
    "perf.ability": "Ability",
    "perf.minutes": "Effective minutes",
    "perf.entries": "Entries",
    "perf.score": "Ability score",
    "perf.suspicious": "Suspicious",
    "perf.suspiciousDays": "Suspicious days: {days}",
    "perf.suspiciousMonths": "Months with suspicious entries: {days}",
    "perf.noSuspicious": "No suspicious entries in this period",
    "perf.totalMinutes": "minutes in total",
    "perf.totalScore": "points in total",
    "perf.totalEntries": "entries",
    "perf.suspiciousEntries": "suspicious",
    "perf.leaderboard": "Leaderboard",
    "perf.metric": "Metric",
    "perf.period": "Period",
    "perf.scope": "Scope",
    "perf.day": "Today",
    "perf.week": "This week",
    "perf.month": "This month",
    "perf.team": "Team",
    "perf.branch": "Branch",
    "perf.group": "Group",
    "perf.rankOf": "My rank: {rank} of {count}",
    "perf.notRanked": "I am not on this board",
    "perf.valueMinutes": "{value} min",
    "perf.valueScore": "{value} pts",
    "perf.top": "top {count}",
    "perf.me": "me",
  },
});

const BOARD_SIZE = 20; // bars in the chart and rows in the list (the caller's row is added)

// Dates as the organisation's calendar days ("YYYY-MM-DD"), counted in UTC so that the
// browser's own time zone never shifts them.
function shiftDays(iso, days) {
  const at = new Date(`${iso}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString().slice(0, 10);
}

function monthsBack(iso, months) {
  const at = new Date(`${iso.slice(0, 7)}-01T00:00:00Z`);
  at.setUTCMonth(at.getUTCMonth() - months);
  return at.toISOString().slice(0, 10);
}

export function curveRange(today, granularity) {
  return granularity === "month"
    ? { from: monthsBack(today, 11), to: today }
    : { from: shiftDays(today, -29), to: today };
}

const label = (point, granularity) => (granularity === "month" ? point.date : point.date.slice(5));
const fmt = (value) => (Number.isInteger(value) ? String(value) : Number(value).toFixed(1));

// every visible user, following the cursor (the demo's group fits in one page)
export async function visibleUsers() {
  const users = [];
  let cursor = null;
  for (let page = 0; page < 20; page += 1) {
    const answer = await api("GET", `/users?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    users.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return users;
}

function Segmented({ options, value, onChange, testid }) {
  return html`<div class="segmented" role="group" data-testid=${testid}>
    ${options.map(([key, text]) => html`<button type="button" class=${value === key ? "chosen" : "choice"}
      aria-pressed=${value === key} data-value=${key} onClick=${() => onChange(key)}>${text}</button>`)}
  </div>`;
}

function curveOptions(points, granularity) {
  const x = points.map((p) => label(p, granularity));
  const flagged = points.map((p) => (p.suspicious > 0 ? p.minutes : null));
  const axisLabel = { hideOverlap: true };
  const grid = { left: 8, right: 8, top: 30, bottom: 30, containLabel: true };
  const tooltip = { trigger: "axis", confine: true };
  const legend = { bottom: 0, type: "scroll" };
  const diligence = {
    grid, tooltip, legend,
    xAxis: { type: "category", data: x, axisLabel },
    yAxis: [
      { type: "value", name: t("perf.minutes"), nameTextStyle: { align: "left" }, minInterval: 1 },
      { type: "value", name: t("perf.entries"), nameTextStyle: { align: "right" }, minInterval: 1,
        splitLine: { show: false } },
    ],
    series: [
      { name: t("perf.minutes"), type: "line", data: points.map((p) => p.minutes), color: COLORS[0],
        showAllSymbol: true, symbolSize: 5, z: 3, areaStyle: { opacity: 0.08 } },
      { name: t("perf.entries"), type: "bar", yAxisIndex: 1, data: points.map((p) => p.entries),
        color: "#b9cdf2", barMaxWidth: 12, z: 1 },
      // the suspicious days: red triangles on the minutes curve, no line between them
      { name: t("perf.suspicious"), type: "line", data: flagged, color: COLORS[3], symbol: "triangle",
        symbolSize: 14, showSymbol: true, showAllSymbol: true, connectNulls: false, lineStyle: { width: 0 }, z: 5,
        tooltip: { valueFormatter: (v) => (v === null || v === undefined ? "—" : `${v}`) } },
    ],
  };
  const ability = {
    grid, tooltip, legend,
    xAxis: { type: "category", data: x, axisLabel },
    yAxis: { type: "value", name: t("perf.score"), nameTextStyle: { align: "left" } },
    series: [
      { name: t("perf.score"), type: "line", data: points.map((p) => p.score), color: COLORS[1],
        showAllSymbol: true, symbolSize: 5, areaStyle: { opacity: 0.08 } },
    ],
  };
  return { diligence, ability };
}

function Curves({ me }) {
  const [granularity, setGranularity] = useState("day");
  const [people, setPeople] = useState([]);
  const [userId, setUserId] = useState(me.id);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (me.level <= 1) return;
    visibleUsers()
      .then((users) => setPeople(users.filter((u) => u.id !== me.id && (u.active ?? true))))
      .catch(setError);
  }, []);
  useEffect(() => {
    const { from, to } = curveRange(me.today, granularity);
    let current = true; // an answer to an earlier choice that arrives late is dropped
    setData(null);
    setError(null);
    api("GET", `/scoring/curves?user_id=${encodeURIComponent(userId)}&from=${from}&to=${to}&granularity=${granularity}`)
      .then((answer) => current && setData({ ...answer, granularity, user_id: userId }))
      .catch((exc) => current && setError(exc));
    return () => {
      current = false;
    };
  }, [userId, granularity]);
  const points = data ? data.points : [];
  const options = useMemo(() => curveOptions(points, granularity), [data, lang()]);
  const flagged = points.filter((p) => p.suspicious > 0);
  const sum = (key) => points.reduce((total, p) => total + (p[key] || 0), 0);
  return html`
    <section class="card perf-curves" data-testid="perf-curves"
      data-shown=${data ? `${data.user_id}/${data.granularity}` : ""}>
      <h2>${t("perf.curves")}</h2>
      <div class="perf-controls">
        <${Segmented} testid="perf-granularity" value=${granularity} onChange=${setGranularity}
          options=${[["day", t("perf.byDay")], ["month", t("perf.byMonth")]]} />
        ${people.length
          ? html`<label class="perf-person">${t("perf.person")}
              <select data-testid="perf-user" value=${userId} onChange=${(e) => setUserId(e.target.value)}>
                <option value=${me.id}>${t("perf.myself", { name: me.name })}</option>
                ${people.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
              </select></label>`
          : null}
      </div>
      <${ErrorLine} error=${error} />
      ${data === null
        ? error ? null : html`<p class="loading">${t("loading")}</p>`
        : html`
          <div class="figures perf-figures" data-testid="perf-totals">
            <div><b data-testid="perf-total-minutes">${sum("minutes")}</b> ${t("perf.totalMinutes")}</div>
            <div><b data-testid="perf-total-score">${fmt(Math.round(sum("score") * 100) / 100)}</b> ${t("perf.totalScore")}</div>
            <div><b>${sum("entries")}</b> ${t("perf.totalEntries")}</div>
            <div class=${sum("suspicious") ? "perf-alert" : ""}><b data-testid="perf-total-suspicious">${sum("suspicious")}</b>
              ${t("perf.suspiciousEntries")}</div>
          </div>
          <h3>${t("perf.diligence")}</h3>
          <${Chart} testid="perf-diligence" option=${options.diligence} points=${points.length} height=${280} />
          <p class=${flagged.length ? "perf-flagged" : "muted"} data-testid="perf-suspicious"
            data-count=${flagged.length}>
            ${flagged.length
              ? t(granularity === "month" ? "perf.suspiciousMonths" : "perf.suspiciousDays", {
                  days: flagged.map((p) => `${label(p, granularity)}（${p.suspicious}）`).join("、"),
                })
              : t("perf.noSuspicious")}
          </p>
          <h3>${t("perf.ability")}</h3>
          <${Chart} testid="perf-ability" option=${options.ability} points=${points.length} height=${240} />`}
    </section>`;
}

function boardOptions(shown, me, metric) {
  const names = shown.map((i) => i.name);
  return {
    grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: names, inverse: true, axisLabel: { interval: 0 } },
    series: [{
      type: "bar",
      name: t(metric === "diligence" ? "perf.minutes" : "perf.score"),
      barMaxWidth: 18,
      label: { show: true, position: "right", formatter: ({ value }) => fmt(value) },
      data: shown.map((i) => ({
        value: i.value,
        itemStyle: { color: i.user_id === me.id ? COLORS[1] : COLORS[0] },
      })),
    }],
  };
}

function Leaderboard({ me }) {
  const [query, setQuery] = useState({ metric: "diligence", period: "day", scope: "team" });
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setItems(null);
    setError(null);
    const { metric, period, scope } = query;
    let current = true;
    api("GET", `/scoring/leaderboard?metric=${metric}&period=${period}&scope=${scope}&date=${me.today}`)
      .then((a) => current && setItems(a.items))
      .catch((exc) => current && setError(exc));
    return () => {
      current = false;
    };
  }, [query.metric, query.period, query.scope]);
  const shown = (items || []).slice(0, BOARD_SIZE);
  const mine = (items || []).find((i) => i.user_id === me.id);
  const option = useMemo(() => boardOptions(shown, me, query.metric), [items, lang()]);
  const value = (v) => t(query.metric === "diligence" ? "perf.valueMinutes" : "perf.valueScore", { value: fmt(v) });
  const rows = mine && !shown.includes(mine) ? [...shown, null, mine] : shown;
  const set = (name) => (key) => setQuery({ ...query, [name]: key });
  return html`
    <section class="card perf-board" data-testid="perf-leaderboard"
      data-shown=${items ? `${query.metric}/${query.period}/${query.scope}` : ""}>
      <h2>${t("perf.leaderboard")}${items ? html` <small>${t("perf.top", { count: shown.length })}</small>` : null}</h2>
      <div class="perf-controls">
        <div class="perf-field"><span class="muted">${t("perf.metric")}</span>
          <${Segmented} testid="perf-metric" value=${query.metric} onChange=${set("metric")}
            options=${[["diligence", t("perf.diligence")], ["ability", t("perf.ability")]]} /></div>
        <div class="perf-field"><span class="muted">${t("perf.period")}</span>
          <${Segmented} testid="perf-period" value=${query.period} onChange=${set("period")}
            options=${[["day", t("perf.day")], ["week", t("perf.week")], ["month", t("perf.month")]]} /></div>
        <div class="perf-field"><span class="muted">${t("perf.scope")}</span>
          <${Segmented} testid="perf-scope" value=${query.scope} onChange=${set("scope")}
            options=${[["team", t("perf.team")], ["branch", t("perf.branch")], ["group", t("perf.group")]]} /></div>
      </div>
      <${ErrorLine} error=${error} />
      ${items === null
        ? error ? null : html`<p class="loading">${t("loading")}</p>`
        : html`
          <p class="perf-myrank" data-testid="perf-myrank">
            ${mine ? t("perf.rankOf", { rank: mine.rank, count: items.length }) : t("perf.notRanked")}</p>
          <${Chart} testid="perf-board-chart" option=${option} points=${shown.length}
            height=${Math.max(120, 26 * shown.length + 30)} />
          <ol class="perf-ranking" data-testid="perf-ranking" data-count=${items.length}>
            ${rows.map((i) => (i === null
              ? html`<li class="gap" aria-hidden="true">…</li>`
              : html`<li class=${i.user_id === me.id ? "me" : ""} data-testid=${i.user_id === me.id ? "perf-rank-me" : "perf-rank"}>
                  <span class="rank">${i.rank}</span>
                  <span class="title"><span data-testid="perf-rank-name">${i.name}</span>${i.user_id === me.id
                    ? html` <span class="tag">${t("perf.me")}</span>` : null}</span>
                  <span class="value">${value(i.value)}</span>
                </li>`))}
          </ol>`}
    </section>`;
}

export function Performance({ me }) {
  return html`
    <div class="performance" data-testid="performance">
      <${Curves} me=${me} />
      <${Leaderboard} me=${me} />
    </div>`;
}
