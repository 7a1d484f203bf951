// 客户关怀: customer care (docs/DOMAIN.md §7, docs/API.md "Customers") in three parts —
// 1. the reminders of a month as a calendar (birthdays solar and lunar, founding anniversaries,
//    important dates, due revisits, appointments), from GET /reminders;
// 2. a customer's care: details, a revisit, the revisit interval, an important date;
// 3. the referral graph (GET /customers/referrals) with its top referrers, and setting who
//    referred a customer (a cycle is refused by the API, its message shown).
// Dates are the organisation's (me.today), never this browser's.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction, useDebounced } from "./action.js";
import { api } from "./api.js";
import { Chart } from "./chart.js";
import { bilingual, lang, register, t } from "./i18n.js";
import "./care.css";

register({
  zh: {
    "care.tabCalendar": "提醒日历",
    "care.tabRevisits": "回访与维护",
    "care.tabReferrals": "客户关系图",
    "care.prev": "上个月",
    "care.next": "下个月",
    "care.thisMonth": "本月",
    "care.month": "{year}年{month}月",
    "care.weekdays": "一,二,三,四,五,六,日",
    "care.dayTitle": "{month}月{day}日 周{weekday}",
    "care.kind.birthday": "生日",
    "care.kind.lunar": "农历生日",
    "care.kind.anniversary": "周年",
    "care.kind.important_date": "重要日子",
    "care.kind.revisit": "回访",
    "care.kind.appointment": "预约",
    "care.overdue": "逾期",
    "care.earlier": "此前到期、尚未回访",
    "care.noReminders": "本月没有提醒",
    "care.more": "还有 {count} 项",
    "care.reminderCount": "本月 {count} 项提醒",
    "care.openCustomer": "打开客户",
    "care.search": "输入客户名称搜索",
    "care.chooseCustomer": "选择客户",
    "care.noMatch": "没有匹配的客户",
    "care.details": "客户资料",
    "care.status.prospect": "潜在客户",
    "care.status.customer": "关怀客户",
    "care.industry": "行业",
    "care.region": "地区",
    "care.founded": "成立日期",
    "care.careSince": "成为关怀客户",
    "care.interval": "回访间隔",
    "care.intervalDays": "每 {days} 天",
    "care.referredBy": "推荐人",
    "care.nobody": "无",
    "care.contacts": "联系人",
    "care.decisionMaker": "决策人",
    "care.lunarBirthday": "农历",
    "care.birthdayShort": "生日",
    "care.recordRevisit": "记录回访",
    "care.upcoming": "近期提醒",
    "care.outcome": "回访结果",
    "care.notes": "备注（可不填）",
    "care.saveRevisit": "保存回访",
    "care.revisitSaved": "回访已记录：{at}",
    "care.verify": "核实业务员的拜访（可不选）",
    "care.noVerify": "不核实",
    "care.visitOf": "{date} {name} 的拜访",
    "care.verdict": "核实结果",
    "care.confirmed": "属实",
    "care.denied": "不属实（客户说没人来过）",
    "care.history": "回访记录",
    "care.claimedVisits": "日志中声称的拜访",
    "care.unverified": "未核实",
    "care.someone": "业务员",
    "care.setInterval": "设置回访间隔",
    "care.days": "间隔天数（1–366）",
    "care.saveInterval": "保存间隔",
    "care.intervalSaved": "已保存：每 {days} 天回访，下次 {next}",
    "care.lastRevisit": "上次回访",
    "care.nextRevisit": "下次回访",
    "care.addDate": "添加重要日子",
    "care.label": "名称",
    "care.date": "日期",
    "care.recurring": "每年重复",
    "care.saveDate": "添加",
    "care.dateSaved": "已添加：{label}（{date}）",
    "care.graph": "客户推荐关系图",
    "care.graphHint": "节点越大，推荐的客户越多；箭头从推荐人指向被推荐的客户。",
    "care.nodes": "{count} 个客户",
    "care.edges": "{count} 条推荐",
    "care.maxDepth": "最长推荐链 {depth} 层",
    "care.topReferrers": "推荐最多的客户（值得感谢）",
    "care.referred": "推荐 {count} 家",
    "care.nonReferrers": "已签约但从未推荐的客户（需更用心服务）",
    "care.andMore": "等 {count} 家",
    "care.setReferrer": "设置推荐人",
    "care.theCustomer": "客户",
    "care.theReferrer": "由谁推荐",
    "care.noReferrer": "（无推荐人）",
    "care.saveReferrer": "保存推荐关系",
    "care.referrerSaved": "已保存。",
    "care.choose": "请选择…",
  },
  en: {
    "care.tabCalendar": "Reminder calendar",
    "care.tabRevisits": "Revisits and care",
    "care.tabReferrals": "Referral graph",
    "care.prev": "Previous month",
    "care.next": "Next month",
    "care.thisMonth": "This month",
    "care.month": "{name} {year}",
    "care.weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    "care.dayTitle": "{weekday} {day} {name}",
    "care.kind.birthday": "Birthday",
    "care.kind.lunar": "Lunar birthday",
    "care.kind.anniversary": "Anniversary",
    "care.kind.important_date": "Important date",
    "care.kind.revisit": "Revisit",
    "care.kind.appointment": "Appointment",
    "care.overdue": "overdue",
    "care.earlier": "Due earlier, not yet revisited",
    "care.noReminders": "No reminders this month",
    "care.more": "{count} more",
    "care.reminderCount": "{count} reminders this month",
    "care.openCustomer": "Open the customer",
    "care.search": "Type a customer's name",
    "care.chooseCustomer": "Choose a customer",
    "care.noMatch": "No matching customer",
    "care.details": "Customer",
    "care.status.prospect": "Prospect",
    "care.status.customer": "Care customer",
    "care.industry": "Industry",
    "care.region": "Region",
    "care.founded": "Founded",
    "care.careSince": "Care customer since",
    "care.interval": "Revisit interval",
    "care.intervalDays": "every {days} days",
    "care.referredBy": "Referred by",
    "care.nobody": "nobody",
    "care.contacts": "Contacts",
    "care.decisionMaker": "decision maker",
    "care.lunarBirthday": "lunar",
    "care.birthdayShort": "birthday",
    "care.recordRevisit": "Record a revisit",
    "care.upcoming": "Coming up",
    "care.outcome": "Outcome",
    "care.notes": "Notes (optional)",
    "care.saveRevisit": "Save the revisit",
    "care.revisitSaved": "Revisit recorded: {at}",
    "care.verify": "Verify a salesperson's visit (optional)",
    "care.noVerify": "No verification",
    "care.visitOf": "visit by {name} on {date}",
    "care.verdict": "Verdict",
    "care.confirmed": "Confirmed",
    "care.denied": "Denied (the customer says nobody came)",
    "care.history": "Revisits",
    "care.claimedVisits": "Visits claimed in work logs",
    "care.unverified": "not verified",
    "care.someone": "a salesperson",
    "care.setInterval": "Revisit interval",
    "care.days": "Days between revisits (1–366)",
    "care.saveInterval": "Save the interval",
    "care.intervalSaved": "Saved: a revisit every {days} days, next on {next}",
    "care.lastRevisit": "Last revisit",
    "care.nextRevisit": "Next revisit",
    "care.addDate": "Add an important date",
    "care.label": "Label",
    "care.date": "Date",
    "care.recurring": "Every year",
    "care.saveDate": "Add",
    "care.dateSaved": "Added: {label} ({date})",
    "care.graph": "Who referred whom",
    "care.graphHint": "The larger a node, the more customers it referred; arrows point from the referrer to the customer referred.",
    "care.nodes": "{count} customers",
    "care.edges": "{count} referrals",
    "care.maxDepth": "longest chain {depth} hops",
    "care.topReferrers": "Top referrers (to thank)",
    "care.referred": "referred {count}",
    "care.nonReferrers": "Signed customers who never referred anyone (to serve better)",
    "care.andMore": "and {count} more",
    "care.setReferrer": "Set a referrer",
    "care.theCustomer": "Customer",
    "care.theReferrer": "Referred by",
    "care.noReferrer": "(nobody)",
    "care.saveReferrer": "Save the referral",
    "care.referrerSaved": "Saved.",
    "care.choose": "Choose…",
  },
});

const KIND_ORDER = ["birthday", "lunar", "anniversary", "important_date", "revisit", "appointment"];
const MAX_CHIPS = 3; // per day cell; the rest behind "n more"
const NAME_FETCH_CAP = 300; // customers looked up one by one beyond the first page of names

// ---- dates as "YYYY-MM-DD" strings, computed in UTC (no browser time zone involved) ----------

const DAY_MS = 86400000;
const toUtc = (iso) => Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10));
const fromUtc = (ms) => new Date(ms).toISOString().slice(0, 10);
const addDays = (iso, n) => fromUtc(toUtc(iso) + n * DAY_MS);
const weekdayIndex = (iso) => (new Date(toUtc(iso)).getUTCDay() + 6) % 7; // Monday 0

function monthGrid(month) {
  // month "YYYY-MM" → the Monday on or before its first day and the number of days shown
  const first = `${month}-01`;
  const start = addDays(first, -weekdayIndex(first));
  const [y, m] = month.split("-").map(Number);
  const last = fromUtc(Date.UTC(y, m, 0));
  const end = addDays(last, 6 - weekdayIndex(last));
  return { start, days: Math.round((toUtc(end) - toUtc(start)) / DAY_MS) + 1, first, last };
}

function shiftMonth(month, n) {
  const [y, m] = month.split("-").map(Number);
  return fromUtc(Date.UTC(y, m - 1 + n, 1)).slice(0, 7);
}

function monthName(month) {
  const [y, m] = month.split("-").map(Number);
  const name = new Date(Date.UTC(y, m - 1, 1)).toLocaleString("en-GB", { month: "long", timeZone: "UTC" });
  return t("care.month", { year: y, month: m, name });
}

function dayTitle(iso) {
  const weekday = t("care.weekdays").split(",")[weekdayIndex(iso)];
  const name = new Date(toUtc(iso)).toLocaleString("en-GB", { month: "short", timeZone: "UTC" });
  return t("care.dayTitle", { month: +iso.slice(5, 7), day: +iso.slice(8, 10), weekday, name });
}

let orgTimezone; // the organisation's (GET /me), set by the screen: times read as its local time

function when(iso) {
  if (!iso) return "";
  const locale = lang() === "en" ? "en-GB" : "zh-CN";
  try {
    return new Date(iso).toLocaleString(locale, { timeZone: orgTimezone });
  } catch {
    return new Date(iso).toLocaleString(locale);
  }
}

const kindOf = (item) => (item.kind === "birthday" && item.calendar === "lunar" ? "lunar" : item.kind);
const intervalDays = (duration) => {
  const match = /^P(\d+)D$/.exec(duration || "");
  return match ? Number(match[1]) : null;
};

// Names of the customers reminded: one page of the visible customers, then (past it) each
// missing one by id, a bounded number.
function useCustomerNames(ids) {
  const [names, setNames] = useState({});
  const known = useRef({});
  const complete = useRef(false);
  const key = ids.join(",");
  useEffect(() => {
    let live = true;
    (async () => {
      if (!complete.current && Object.keys(known.current).length === 0 && ids.length) {
        try {
          const page = await api("GET", "/customers?limit=500");
          for (const c of page.items) known.current[c.id] = c.name;
          complete.current = !page.next_cursor;
        } catch {
          /* names are a nicety: the chips fall back to the reminder's label */
        }
      }
      if (!complete.current) {
        const missing = ids.filter((id) => !(id in known.current)).slice(0, NAME_FETCH_CAP);
        for (let i = 0; i < missing.length; i += 8) {
          await Promise.all(
            missing.slice(i, i + 8).map((id) =>
              api("GET", `/customers/${id}`)
                .then((c) => { known.current[id] = c.name; })
                .catch(() => { known.current[id] = null; }),
            ),
          );
        }
      }
      if (live) setNames({ ...known.current });
    })();
    return () => { live = false; };
  }, [key]);
  return names;
}

// ---- 1. the month calendar ----------------------------------------------------------------------

function Chip({ item, name, onOpen }) {
  const kind = kindOf(item);
  const label = bilingual(item.label);
  return html`<button type="button" class=${`chip kind-${kind}${item.overdue ? " overdue" : ""}`}
    data-testid="chip" data-kind=${kind} data-customer=${item.customer_id} data-date=${item.date}
    title=${`${t(`care.kind.${kind}`)} · ${name || ""} · ${label}`} onClick=${() => onOpen(item.customer_id)}>
    <b>${t(`care.kind.${kind}`)}</b> ${name || label}</button>`;
}

function ReminderRow({ item, name, onOpen }) {
  const kind = kindOf(item);
  return html`<li data-testid="reminder" data-kind=${kind} data-date=${item.date} data-customer=${item.customer_id}
    class=${item.overdue ? "late" : ""}>
    <span class=${`chip kind-${kind}`}><b>${t(`care.kind.${kind}`)}</b></span>
    <button type="button" class="link name" onClick=${() => onOpen(item.customer_id)}>${name || item.customer_id}</button>
    <span class="muted">${bilingual(item.label)}${item.overdue ? ` · ${t("care.overdue")}` : ""}</span>
  </li>`;
}

function Calendar({ me, onOpen }) {
  const [month, setMonth] = useState(me.today.slice(0, 7));
  const [data, setData] = useState(null);
  const [chosenDay, setChosenDay] = useState(null);
  const { run, error } = useAction();
  const grid = monthGrid(month);
  const shown = useRef(month);
  useEffect(() => {
    shown.current = month;
    setData(null);
    setChosenDay(null);
    run(async () => {
      // one call covers the grid (at most 42 days; the API takes up to 366)
      const answer = await api("GET", `/reminders?from=${grid.start}&days=${grid.days}`);
      if (shown.current === month) setData({ month, items: answer.items });
    });
  }, [month]);
  const items = data && data.month === month ? data.items : [];
  const ids = useMemo(() => [...new Set(items.map((i) => i.customer_id))].sort(), [items]);
  const names = useCustomerNames(ids);
  const byDay = useMemo(() => {
    const days = {};
    for (const item of items) (days[item.date] = days[item.date] || []).push(item);
    return days;
  }, [items]);
  const earlier = items.filter((i) => i.date < grid.start);
  const inMonth = items.filter((i) => i.date >= grid.first && i.date <= grid.last);
  const shownKinds = new Set(items.map(kindOf));
  const cells = [];
  for (let i = 0; i < grid.days; i += 1) cells.push(addDays(grid.start, i));
  const listDays = Object.keys(byDay).filter((d) => d >= grid.first && d <= grid.last).sort();

  return html`
    <section class="card care-calendar" data-testid="care-calendar" data-month=${month}>
      <header class="care-month">
        <button type="button" class="small" data-testid="prev-month" aria-label=${t("care.prev")}
          onClick=${() => setMonth(shiftMonth(month, -1))}>‹ <span class="wide">${t("care.prev")}</span></button>
        <h2 data-testid="month-title">${monthName(month)}</h2>
        <button type="button" class="small" data-testid="next-month" aria-label=${t("care.next")}
          onClick=${() => setMonth(shiftMonth(month, 1))}><span class="wide">${t("care.next")}</span> ›</button>
        ${month !== me.today.slice(0, 7)
          ? html`<button type="button" class="link" onClick=${() => setMonth(me.today.slice(0, 7))}>${t("care.thisMonth")}</button>`
          : null}
      </header>
      <${ErrorLine} error=${error} />
      <p class="muted" data-testid="reminder-count">${data ? t("care.reminderCount", { count: inMonth.length }) : t("loading")}</p>
      <div class="legend">
        ${KIND_ORDER.filter((k) => shownKinds.has(k) || k !== "lunar").map(
          (k) => html`<span class=${`chip kind-${k}`}><b>${t(`care.kind.${k}`)}</b></span>`,
        )}
      </div>
      ${earlier.length
        ? html`<div class="care-earlier" data-testid="earlier"><h3>${t("care.earlier")} <small>${earlier.length}</small></h3>
            <ul>${earlier.map((item) => html`<${ReminderRow} item=${item} name=${names[item.customer_id]} onOpen=${onOpen} />`)}</ul></div>`
        : null}
      <div class="care-grid" data-testid="calendar-grid" role="grid">
        ${t("care.weekdays").split(",").map((w) => html`<div class="care-weekday" role="columnheader">${w}</div>`)}
        ${cells.map((day) => {
          const list = byDay[day] || [];
          const outside = day < grid.first || day > grid.last;
          const cls = ["care-day", outside ? "outside" : "", day === me.today ? "today" : "",
            day === chosenDay ? "chosen" : ""].join(" ");
          return html`<div class=${cls} data-testid=${`day-${day}`} data-count=${list.length} role="gridcell"
              aria-current=${day === me.today ? "date" : undefined}>
            <button type="button" class="care-daynum" onClick=${() => setChosenDay(day === chosenDay ? null : day)}>${+day.slice(8)}</button>
            ${list.slice(0, MAX_CHIPS).map((item) => html`<${Chip} item=${item} name=${names[item.customer_id]} onOpen=${onOpen} />`)}
            ${list.length > MAX_CHIPS
              ? html`<button type="button" class="link more" onClick=${() => setChosenDay(day)}>${t("care.more", { count: list.length - MAX_CHIPS })}</button>`
              : null}
          </div>`;
        })}
      </div>
      ${chosenDay && (byDay[chosenDay] || []).length
        ? html`<div class="care-dayview" data-testid="day-detail"><h3>${dayTitle(chosenDay)}</h3>
            <ul>${byDay[chosenDay].map((item) => html`<${ReminderRow} item=${item} name=${names[item.customer_id]} onOpen=${onOpen} />`)}</ul></div>`
        : null}
      <div class="care-list" data-testid="calendar-list">
        ${data && listDays.length === 0 ? html`<p class="muted">${t("care.noReminders")}</p>` : null}
        ${listDays.map((day) => html`
          <div class=${`care-listday${day === me.today ? " today" : ""}`} data-testid=${`list-${day}`}>
            <h3>${dayTitle(day)}</h3>
            <ul>${byDay[day].map((item) => html`<${ReminderRow} item=${item} name=${names[item.customer_id]} onOpen=${onOpen} />`)}</ul>
          </div>`)}
      </div>
    </section>`;
}

// ---- 2. a customer's care ---------------------------------------------------------------------

function CustomerPicker({ chosen, onChoose }) {
  const [query, setQuery] = useState("");
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const search = useDebounced(query.trim(), 250);
  useEffect(() => {
    const q = search ? `&q=${encodeURIComponent(search)}` : "";
    setError(null);
    api("GET", `/customers?limit=20${q}`).then((a) => setFound(a.items)).catch(setError);
  }, [search]);
  return html`
    <section class="card" data-testid="care-picker">
      <h2>${t("care.chooseCustomer")}</h2>
      <input type="search" placeholder=${t("care.search")} aria-label=${t("care.search")} value=${query}
        data-testid="care-search" onInput=${(e) => setQuery(e.target.value)} />
      <${ErrorLine} error=${error} />
      <ul class="choices" data-testid="care-customers">
        ${found && found.length === 0 ? html`<li class="muted">${t("care.noMatch")}</li>` : null}
        ${(found || []).map((c) => html`<li><button type="button" class=${chosen === c.id ? "chosen" : "choice"}
          onClick=${() => onChoose(c.id)}>${c.name}</button></li>`)}
      </ul>
    </section>`;
}

function Details({ customer, referrerName, lastRevisit, nextRevisit, upcoming }) {
  const days = intervalDays(customer.revisit_interval);
  const row = (label, value, testid) => html`<div><dt>${label}</dt><dd data-testid=${testid}>${value || "—"}</dd></div>`;
  return html`
    <section class="card" data-testid="care-details" data-customer=${customer.id}>
      <h2><span data-testid="care-name">${customer.name}</span>
        <span class=${`tag ${customer.status === "customer" ? "ok" : ""}`} data-testid="care-status">
          ${t(`care.status.${customer.status}`)}</span></h2>
      <dl class="care-facts">
        ${row(t("care.industry"), customer.industry)}
        ${row(t("care.region"), customer.region)}
        ${row(t("care.founded"), customer.founded_on)}
        ${row(t("care.careSince"), when(customer.care_since))}
        ${row(t("care.interval"), days ? t("care.intervalDays", { days }) : null, "care-interval")}
        ${lastRevisit ? row(t("care.lastRevisit"), when(lastRevisit), "care-last") : null}
        ${row(t("care.nextRevisit"), nextRevisit, "care-next")}
        ${row(t("care.referredBy"), customer.referred_by ? referrerName || customer.referred_by : t("care.nobody"))}
      </dl>
      ${customer.contacts && customer.contacts.length
        ? html`<h3>${t("care.contacts")}</h3><ul data-testid="care-contacts">
            ${customer.contacts.map((c) => html`<li>
              <span class="title">${c.name}${c.title ? html` <span class="muted">${c.title}</span>` : null}</span>
              ${c.decision_maker ? html`<span class="tag">${t("care.decisionMaker")}</span>` : null}
              ${c.birthday ? html`<span class="muted">${t("care.birthdayShort")} ${c.birthday}${c.birthday_calendar === "lunar" ? ` (${t("care.lunarBirthday")})` : ""}</span>` : null}
              ${c.phone ? html`<span class="muted">${c.phone}</span>` : null}
            </li>`)}</ul>`
        : null}
      <h3>${t("care.upcoming")}</h3>
      ${upcoming === null ? html`<p class="muted">${t("loading")}</p>` : upcoming.length === 0
        ? html`<p class="muted">${t("none")}</p>`
        : html`<ul data-testid="care-upcoming">${upcoming.map((item) => html`<li data-testid="reminder" data-kind=${kindOf(item)} data-date=${item.date}
            class=${item.overdue ? "late" : ""}>
            <span class=${`chip kind-${kindOf(item)}`}><b>${t(`care.kind.${kindOf(item)}`)}</b></span>
            <span class="tag">${item.date}</span> <span class="title">${bilingual(item.label)}</span></li>`)}</ul>`}
    </section>`;
}

// A revisit; customer service may verify one claimed visit with it (a denial proves that log
// entry false for scoring). Never one's own visit: the API refuses that, and says so.
function RevisitForm({ customerId, visits, names, onSaved }) {
  const [outcome, setOutcome] = useState("");
  const [notes, setNotes] = useState("");
  const [entry, setEntry] = useState("");
  const [verdict, setVerdict] = useState("confirmed");
  const [saved, setSaved] = useState(null);
  const { run, busy, error } = useAction();
  const open = (visits || []).filter((v) => !v.verification);
  const submit = (event) => {
    event.preventDefault();
    const body = { outcome: outcome.trim() };
    if (notes.trim()) body.notes = notes.trim();
    if (entry) Object.assign(body, { verifies_entry_id: entry, verification: verdict });
    run(async () => {
      const revisit = await api("POST", `/customers/${customerId}/revisits`, body);
      setSaved(revisit);
      setOutcome("");
      setNotes("");
      setEntry("");
      onSaved(revisit);
    });
  };
  const visitName = (v) => t("care.visitOf", { date: v.work_date, name: v.author_name || names[v.author_id] || t("care.someone") });
  return html`
    <form class="card" onSubmit=${submit} data-testid="revisit-form">
      <h2>${t("care.recordRevisit")}</h2>
      <label>${t("care.outcome")}<textarea name="outcome" rows="2" required maxlength="500" value=${outcome}
        onInput=${(e) => setOutcome(e.target.value)}></textarea></label>
      <label>${t("care.notes")}<textarea name="notes" rows="2" maxlength="2000" value=${notes}
        onInput=${(e) => setNotes(e.target.value)}></textarea></label>
      ${open.length ? html`
        <label>${t("care.verify")}<select name="verifies_entry_id" value=${entry} onChange=${(e) => setEntry(e.target.value)}>
          <option value="">${t("care.noVerify")}</option>
          ${open.map((v) => html`<option value=${v.entry_id}>${visitName(v)}</option>`)}
        </select></label>
        ${entry ? html`<fieldset class="care-verdict"><legend>${t("care.verdict")}</legend>
          ${["confirmed", "denied"].map((k) => html`<label class="check"><input type="radio" name="verification" value=${k}
            checked=${verdict === k} onChange=${() => setVerdict(k)} /> ${t(`care.${k}`)}</label>`)}
        </fieldset>` : null}` : null}
      <${ErrorLine} error=${error} labels=${{ outcome: t("care.outcome"), notes: t("care.notes"), verifies_entry_id: t("care.verify") }} />
      ${saved ? html`<p class="ok" data-testid="revisit-saved" data-revisit=${saved.id} data-at=${saved.at}>
        ${t("care.revisitSaved", { at: when(saved.at) })}</p>` : null}
      <button type="submit" disabled=${busy || !outcome.trim()}>${t("care.saveRevisit")}</button>
    </form>`;
}

// What was done for the customer: its revisits, newest first, and the visits salespeople
// claimed in their logs with the verdict of customer service.
function History({ history, names }) {
  if (!history) return null;
  const verdict = (v) => (v.verification ? t(`care.${v.verification}`) : t("care.unverified"));
  return html`
    <section class="card" data-testid="care-history">
      <h2>${t("care.history")} <small>${history.items.length}</small></h2>
      ${history.items.length === 0 ? html`<p class="muted">${t("none")}</p>` : html`<ul>
        ${history.items.map((r) => html`<li data-testid="revisit">
          <span class="tag">${when(r.at)}</span><span class="title">${r.outcome}</span>
          <span class="muted">${r.by_name || names[r.by] || ""}</span>
          ${r.notes ? html`<span class="muted">${r.notes}</span>` : null}</li>`)}</ul>`}
      ${history.visits.length ? html`<h3>${t("care.claimedVisits")}</h3><ul data-testid="claimed-visits">
        ${history.visits.map((v) => html`<li data-testid="claimed-visit" data-entry=${v.entry_id} data-verification=${v.verification || ""}>
          <span class="tag">${v.work_date}</span><span class="title">${v.author_name || names[v.author_id] || t("care.someone")}</span>
          <span class=${`tag ${v.verification === "denied" ? "pending" : v.verification ? "ok" : ""}`}>${verdict(v)}</span></li>`)}</ul>` : null}
    </section>`;
}

function IntervalForm({ customer, onSaved }) {
  const [days, setDays] = useState(String(intervalDays(customer.revisit_interval) || 15));
  const [saved, setSaved] = useState(null);
  const { run, busy, error } = useAction();
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      const care = await api("PUT", `/customers/${customer.id}/care`, { revisit_interval: `P${Number(days)}D` });
      setSaved(care);
      onSaved(care);
    });
  };
  return html`
    <form class="card" onSubmit=${submit} data-testid="interval-form">
      <h2>${t("care.setInterval")}</h2>
      <label>${t("care.days")}<input type="number" name="days" min="1" max="366" required value=${days}
        onInput=${(e) => setDays(e.target.value)} /></label>
      <${ErrorLine} error=${error} labels=${{ revisit_interval: t("care.days") }} />
      ${saved ? html`<p class="ok" data-testid="interval-saved">${t("care.intervalSaved", {
        days: intervalDays(saved.revisit_interval), next: saved.next_revisit_on || "—" })}</p>` : null}
      <button type="submit" disabled=${busy}>${t("care.saveInterval")}</button>
    </form>`;
}

function ImportantDateForm({ customerId, today, onSaved }) {
  const [label, setLabel] = useState("");
  const [date, setDate] = useState(today);
  const [recurring, setRecurring] = useState(true);
  const [saved, setSaved] = useState(null);
  const { run, busy, error } = useAction();
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      const made = await api("POST", `/customers/${customerId}/important-dates`, { label: label.trim(), date, recurring });
      setSaved(made);
      setLabel("");
      onSaved();
    });
  };
  return html`
    <form class="card" onSubmit=${submit} data-testid="date-form">
      <h2>${t("care.addDate")}</h2>
      <label>${t("care.label")}<input name="label" required maxlength="100" value=${label}
        onInput=${(e) => setLabel(e.target.value)} /></label>
      <label>${t("care.date")}<input type="date" name="date" required value=${date}
        onInput=${(e) => setDate(e.target.value)} /></label>
      <label class="check"><input type="checkbox" name="recurring" checked=${recurring}
        onChange=${(e) => setRecurring(e.target.checked)} /> ${t("care.recurring")}</label>
      <${ErrorLine} error=${error} labels=${{ label: t("care.label"), date: t("care.date"), recurring: t("care.recurring") }} />
      ${saved ? html`<p class="ok" data-testid="date-saved">${t("care.dateSaved", { label: saved.label, date: saved.date })}</p>` : null}
      <button type="submit" disabled=${busy || !label.trim() || !date}>${t("care.saveDate")}</button>
    </form>`;
}

function Revisits({ me, chosen, onChoose }) {
  const [customer, setCustomer] = useState(null); // with its last revisit and the next one due
  const [upcoming, setUpcoming] = useState(null);
  const [referrerName, setReferrerName] = useState(null);
  const [history, setHistory] = useState(null);
  const [names, setNames] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {  // the people the caller may see, to name authors and visitors
    api("GET", "/users?limit=500")
      .then((a) => setNames(Object.fromEntries(a.items.map((u) => [u.id, u.name]))))
      .catch(() => setNames({}));
  }, []);
  // the customer's reminders from today: its next revisit is due within one interval (an
  // overdue one is listed whatever the window)
  const loadUpcoming = (c) => {
    const days = Math.min(366, Math.max(31, (intervalDays(c.revisit_interval) || 15) + 1));
    api("GET", `/reminders?from=${me.today}&days=${days}`)
      .then((a) => setUpcoming(a.items.filter((i) => i.customer_id === c.id)))
      .catch(setError);
  };
  const load = () => {
    if (!chosen) return;
    setError(null);
    api("GET", `/customers/${chosen}`)
      .then((c) => {
        setCustomer(c);
        loadUpcoming(c);
        api("GET", `/customers/${c.id}/revisits`).then(setHistory).catch(setError);
        if (c.referred_by) {
          api("GET", `/customers/${c.referred_by}`).then((r) => setReferrerName(r.name)).catch(() => setReferrerName(null));
        } else setReferrerName(null);
      })
      .catch(setError);
  };
  useEffect(() => {
    setCustomer(null);
    setUpcoming(null);
    setHistory(null);
    load();
  }, [chosen]);
  return html`
    <div class="care-revisits" data-testid="care-revisits">
      <${CustomerPicker} chosen=${chosen} onChoose=${onChoose} />
      <${ErrorLine} error=${error} />
      ${customer && customer.id === chosen
        ? html`
          <${Details} customer=${customer} referrerName=${referrerName}
            lastRevisit=${customer.last_revisit_at} nextRevisit=${customer.next_revisit_on}
            upcoming=${upcoming} />
          <div class="care-forms">
            <${RevisitForm} key=${`r${customer.id}`} customerId=${customer.id} visits=${history && history.visits}
              names=${names} onSaved=${load} />
            <${IntervalForm} key=${`i${customer.id}`} customer=${customer} onSaved=${load} />
            <${ImportantDateForm} key=${`d${customer.id}`} customerId=${customer.id} today=${me.today}
              onSaved=${() => loadUpcoming(customer)} />
          </div>
          <${History} history=${history} names=${names} />`
        : chosen && !error ? html`<p class="loading">${t("loading")}</p>` : null}
    </div>`;
}

// ---- 3. the referral graph -------------------------------------------------------------------

function shortName(name) {
  const stripped = name.replace(/(股份有限公司|有限责任公司|有限公司|集团|公司)$/, "");
  return stripped.length > 10 ? `${stripped.slice(0, 9)}…` : stripped;
}

function graphOption(graph) {
  const counts = Object.fromEntries(graph.referrers.map((r) => [r.customer_id, r.referred_count]));
  const ids = new Set(graph.nodes.map((n) => n.customer_id));
  const many = graph.nodes.length > 80;
  const categories = [{ name: t("care.status.prospect") }, { name: t("care.status.customer") }];
  const data = graph.nodes.map((n) => {
    const count = counts[n.customer_id] || 0;
    return {
      id: n.customer_id,
      name: n.name,
      value: count,
      category: n.status === "customer" ? 1 : 0,
      symbolSize: 8 + 7 * Math.sqrt(count),
      label: { show: !many || count > 0 },
    };
  });
  const links = graph.edges
    .filter((e) => ids.has(e.from) && ids.has(e.to))
    .map((e) => ({ source: e.from, target: e.to }));
  return {
    tooltip: {
      formatter: (p) => (p.dataType === "edge"
        ? `${graph.nodes.find((n) => n.customer_id === p.data.source)?.name || ""} → ${graph.nodes.find((n) => n.customer_id === p.data.target)?.name || ""}`
        : `${p.data.name}<br/>${t("care.referred", { count: p.data.value })}`),
    },
    legend: [{ data: categories.map((c) => c.name), top: 0 }],
    series: [{
      type: "graph",
      layout: "force",
      roam: true,
      draggable: true,
      top: 30,
      categories,
      data,
      links,
      force: { repulsion: many ? 60 : graph.nodes.length > 30 ? 140 : 220, edgeLength: [40, 90], gravity: 0.12, layoutAnimation: !navigator.webdriver },
      label: { position: "right", fontSize: 11, formatter: (p) => shortName(p.data.name) },
      edgeSymbol: ["none", "arrow"],
      edgeSymbolSize: 7,
      lineStyle: { color: "source", opacity: 0.7, width: 1.5, curveness: 0.15 },
      emphasis: { focus: "adjacency" },
    }],
  };
}

function ReferrerForm({ nodes, onSaved }) {
  const [customer, setCustomer] = useState("");
  const [referrer, setReferrer] = useState("");
  const [saved, setSaved] = useState(false);
  const { run, busy, error } = useAction();
  const sorted = useMemo(() => [...nodes].sort((a, b) => a.name.localeCompare(b.name, "zh-CN")), [nodes]);
  const submit = (event) => {
    event.preventDefault();
    setSaved(false);
    run(async () => {
      await api("PUT", `/customers/${customer}/referrer`, { referred_by: referrer || null });
      setSaved(true);
      onSaved();
    });
  };
  const pick = (id) => {
    setCustomer(id);
    setSaved(false);
    const node = nodes.find((n) => n.customer_id === id);
    setReferrer(node && node.referred_by ? node.referred_by : "");
  };
  return html`
    <form class="card" onSubmit=${submit} data-testid="referrer-form">
      <h2>${t("care.setReferrer")}</h2>
      <label>${t("care.theCustomer")}<select name="customer" required value=${customer} onChange=${(e) => pick(e.target.value)}>
        <option value="">${t("care.choose")}</option>
        ${sorted.map((n) => html`<option value=${n.customer_id}>${n.name}</option>`)}
      </select></label>
      <label>${t("care.theReferrer")}<select name="referrer" value=${referrer} onChange=${(e) => { setReferrer(e.target.value); setSaved(false); }}>
        <option value="">${t("care.noReferrer")}</option>
        ${sorted.filter((n) => n.customer_id !== customer).map((n) => html`<option value=${n.customer_id}>${n.name}</option>`)}
      </select></label>
      <${ErrorLine} error=${error} labels=${{ referred_by: t("care.theReferrer") }} />
      ${saved ? html`<p class="ok" data-testid="referrer-saved">${t("care.referrerSaved")}</p>` : null}
      <button type="submit" disabled=${busy || !customer}>${t("care.saveReferrer")}</button>
    </form>`;
}

function Referrals({ onOpen }) {
  const [graph, setGraph] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api("GET", "/customers/referrals").then(setGraph).catch(setError);
  useEffect(() => { load(); }, []);
  const option = useMemo(() => (graph ? graphOption(graph) : null), [graph, lang()]);
  if (!graph) return html`<div class="card"><${ErrorLine} error=${error} /><p class="loading">${t("loading")}</p></div>`;
  const name = Object.fromEntries(graph.nodes.map((n) => [n.customer_id, n.name]));
  const top = graph.referrers.slice(0, 10);
  const quiet = graph.non_referrers;
  return html`
    <div class="care-referrals" data-testid="care-referrals">
      <${ErrorLine} error=${error} />
      <section class="card care-graph">
        <h2>${t("care.graph")} <small data-testid="graph-counts">${[
          t("care.nodes", { count: graph.nodes.length }),
          t("care.edges", { count: graph.edges.length }),
          t("care.maxDepth", { depth: graph.max_depth }),
        ].join(" · ")}</small></h2>
        <p class="muted">${t("care.graphHint")}</p>
        <${Chart} option=${option} points=${graph.nodes.length} testid="referral-graph" height=${460} />
      </section>
      <div class="split">
        <section class="card" data-testid="top-referrers">
          <h2>${t("care.topReferrers")} <small>${graph.referrers.length}</small></h2>
          ${top.length === 0 ? html`<p class="muted">${t("none")}</p>` : html`<ol class="care-rank">
            ${top.map((r) => html`<li data-testid="referrer" data-customer=${r.customer_id} data-count=${r.referred_count}>
              <button type="button" class="link name" onClick=${() => onOpen(r.customer_id)}>${name[r.customer_id] || r.customer_id}</button>
              <span class="tag">${t("care.referred", { count: r.referred_count })}</span></li>`)}</ol>`}
        </section>
        <section class="card" data-testid="non-referrers">
          <h2>${t("care.nonReferrers")} <small>${quiet.length}</small></h2>
          ${quiet.length === 0 ? html`<p class="muted">${t("none")}</p>` : html`<ul>
            ${quiet.slice(0, 10).map((c) => html`<li><button type="button" class="link name" onClick=${() => onOpen(c.customer_id)}>${c.name}</button></li>`)}
            ${quiet.length > 10 ? html`<li class="muted">${t("care.andMore", { count: quiet.length })}</li>` : null}
          </ul>`}
        </section>
        <${ReferrerForm} nodes=${graph.nodes} onSaved=${load} />
      </div>
    </div>`;
}

// ---- the screen ---------------------------------------------------------------------------------

const TABS = [
  ["calendar", "care.tabCalendar"],
  ["revisits", "care.tabRevisits"],
  ["referrals", "care.tabReferrals"],
];

export function Care({ me }) {
  orgTimezone = me.timezone || undefined;
  const [tab, setTab] = useState("calendar");
  const [chosen, setChosen] = useState(null);
  const open = (customerId) => {
    setChosen(customerId);
    setTab("revisits");
  };
  return html`
    <div class="care" data-testid="care">
      <nav class="care-tabs" role="tablist">
        ${TABS.map(([key, label]) => html`<button type="button" role="tab" aria-selected=${tab === key}
          class=${tab === key ? "chosen" : "choice"} data-testid=${`tab-${key}`} onClick=${() => setTab(key)}>${t(label)}</button>`)}
      </nav>
      ${tab === "calendar" ? html`<${Calendar} me=${me} onOpen=${open} />` : null}
      ${tab === "revisits" ? html`<${Revisits} me=${me} chosen=${chosen} onChoose=${setChosen} />` : null}
      ${tab === "referrals" ? html`<${Referrals} onOpen=${open} />` : null}
    </div>`;
}
