// 经验池: the group's solved problems, searched as one types (Chinese and English), filtered by
// stage, category and kind, with 有帮助 votes; and the printable 生意经 handbook of a stage
// (docs/API.md "Alarms and experience"; docs/DOMAIN.md §6). The handbook is the API's HTML, but it holds
// users' text: it is parsed inertly (DOMParser runs nothing) and only a whitelist of plain
// elements, without a single attribute, is rebuilt as Preact elements — never innerHTML.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine } from "./action.js";
import { ApiError, api, refreshed, token } from "./api.js";
import { bilingual, register, t } from "./i18n.js";
import "./experience.css";

register({
  zh: {
    "exp.tabSearch": "经验检索",
    "exp.tabHandbook": "生意经手册",
    "exp.search": "搜索问题或方法",
    "exp.searchHint": "输入关键词，例如：价格、回款、竞争对手",
    "exp.stage": "阶段",
    "exp.category": "类别",
    "exp.kind": "类型",
    "exp.all": "全部",
    "exp.kindSales": "销售",
    "exp.kindService": "客服",
    "exp.found": "{count} 条",
    "exp.more": "（仅显示前 {count} 条，请细化搜索）",
    "exp.none": "没有找到相符的经验",
    "exp.problem": "问题",
    "exp.method": "有效方法",
    "exp.reused": "复用 {count}",
    "exp.helpfulCount": "有帮助 {count}",
    "exp.helpful": "有帮助",
    "exp.voted": "已投票",
    "exp.noStage": "未分阶段",
    "exp.allStages": "全部阶段",
    "exp.print": "打印",
    "exp.handbookEntries": "共 {count} 条经验",
    "exp.handbookHint": "按阶段、类别编排，复用和有帮助多的在前。",
  },
  en: {
    "exp.tabSearch": "Search",
    "exp.tabHandbook": "Handbook (生意经)",
    "exp.search": "Search problems or methods",
    "exp.searchHint": "Type a keyword, e.g. price, payment, competitor",
    "exp.stage": "Stage",
    "exp.category": "Category",
    "exp.kind": "Kind",
    "exp.all": "All",
    "exp.kindSales": "Sales",
    "exp.kindService": "Customer service",
    "exp.found": "{count} found",
    "exp.more": "(the first {count} only: narrow the search)",
    "exp.none": "No matching experience",
    "exp.problem": "Problem",
    "exp.method": "Effective method",
    "exp.reused": "reused {count}",
    "exp.helpfulCount": "helpful {count}",
    "exp.helpful": "Helpful",
    "exp.voted": "Voted",
    "exp.noStage": "No stage",
    "exp.allStages": "All stages",
    "exp.print": "Print",
    "exp.handbookEntries": "{count} entries",
    "exp.handbookHint": "By stage and category; the most reused and helpful first.",
  },
});

const PAGE = 30;
const DEBOUNCE_MS = 250;

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  return search.toString();
}

// ---- search -------------------------------------------------------------------------------

function Entry({ entry, stageName, categoryName, onVoted }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const vote = async () => {
    setBusy(true);
    setError(null);
    try {
      onVoted(await api("POST", `/experience/${entry.id}/helpful`));
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <li class="exp-entry" data-testid="entry" data-id=${entry.id}>
      <h3 class="exp-title">${entry.title}</h3>
      <p class="exp-tags">
        <span class="tag">${stageName(entry.stage)}</span>
        <span class="tag">${categoryName(entry.category)}</span>
        ${entry.kind === "service" ? html`<span class="tag">${t("exp.kindService")}</span>` : null}
      </p>
      <dl>
        <dt>${t("exp.problem")}</dt><dd data-testid="problem">${entry.problem}</dd>
        <dt>${t("exp.method")}</dt><dd data-testid="method">${entry.method}</dd>
      </dl>
      <div class="exp-counts">
        <span class="muted" data-testid="reuse" data-count=${entry.reuse_count}>${t("exp.reused", { count: entry.reuse_count })}</span>
        <span class="muted" data-testid="helpful-count" data-count=${entry.helpful_count}>
          ${t("exp.helpfulCount", { count: entry.helpful_count })}</span>
        <button type="button" class="small" data-testid="helpful" disabled=${busy || entry.voted} onClick=${vote}>
          ${entry.voted ? t("exp.voted") : t("exp.helpful")}</button>
      </div>
      <${ErrorLine} error=${error} />
    </li>`;
}

function Search({ stages, categories, stageName, categoryName }) {
  const [filters, setFilters] = useState({ q: "", stage: "", category: "", kind: "" });
  const [result, setResult] = useState(null); // {key, items, more}
  const [error, setError] = useState(null);
  const latest = useRef("");
  const key = query({ ...filters, q: filters.q.trim(), limit: String(PAGE) });
  useEffect(() => {
    latest.current = key;
    const timer = setTimeout(() => {
      api("GET", `/experience?${key}`)
        .then((page) => {
          if (latest.current !== key) return; // an answer to an older query
          setError(null);
          setResult({ key, q: filters.q.trim(), stage: filters.stage, items: page.items, more: Boolean(page.next_cursor) });
        })
        .catch((exc) => latest.current === key && setError(exc));
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [key]);
  const field = (name) => (event) => setFilters({ ...filters, [name]: event.target.value });
  const voted = (entry) =>
    setResult((r) => ({ ...r, items: r.items.map((e) => (e.id === entry.id ? { ...e, ...entry, voted: true } : e)) }));
  const ready = result && result.key === key;
  return html`
    <section class="exp-search" data-testid="exp-search">
      <div class="card exp-filters">
        <label class="exp-q">${t("exp.search")}<input type="search" name="q" value=${filters.q}
          placeholder=${t("exp.searchHint")} onInput=${field("q")} /></label>
        <label>${t("exp.stage")}<select name="stage" value=${filters.stage} onChange=${field("stage")}>
          <option value="">${t("exp.all")}</option>
          ${stages.map((s) => html`<option value=${s.key}>${bilingual(s.name)}</option>`)}
        </select></label>
        <label>${t("exp.category")}<select name="category" value=${filters.category} onChange=${field("category")}>
          <option value="">${t("exp.all")}</option>
          ${categories.map((c) => html`<option value=${c.key}>${bilingual(c.name)}</option>`)}
        </select></label>
        <label>${t("exp.kind")}<select name="kind" value=${filters.kind} onChange=${field("kind")}>
          <option value="">${t("exp.all")}</option>
          <option value="sales">${t("exp.kindSales")}</option>
          <option value="service">${t("exp.kindService")}</option>
        </select></label>
      </div>
      <${ErrorLine} error=${error} />
      ${result === null
        ? html`<p class="loading">${t("loading")}</p>`
        : html`
          <div class="card" data-testid="results" data-q=${result.q} data-stage=${result.stage} data-ready=${ready ? "yes" : "no"}>
            <h2>${t("exp.found", { count: result.items.length })}
              ${result.more ? html` <small>${t("exp.more", { count: PAGE })}</small>` : null}</h2>
            ${result.items.length === 0
              ? html`<p class="muted">${t("exp.none")}</p>`
              : html`<ul class="exp-list">${result.items.map((e) => html`<${Entry} key=${e.id} entry=${e}
                  stageName=${stageName} categoryName=${categoryName} onVoted=${voted} />`)}</ul>`}
          </div>`}
    </section>`;
}

// ---- the handbook -------------------------------------------------------------------------

// elements kept (without attributes); anything else unwrapped to its text, or dropped entirely
const KEEP = new Set(["h1", "h2", "h3", "h4", "p", "strong", "em", "b", "i", "section", "article",
  "dl", "dt", "dd", "ul", "ol", "li", "br", "hr"]);
const DROP = new Set(["script", "style", "template", "iframe", "object", "embed", "noscript",
  "svg", "math", "head", "title", "link", "meta", "img", "video", "audio", "form", "input",
  "button", "textarea", "select"]);
// headings and labels the service writes as "中文 / English"
const LABELS = new Set(["h1", "h3", "dt"]);

function rebuild(node, stageName, key = 0) {
  if (node.nodeType === Node.TEXT_NODE) return node.nodeValue;
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  const tag = node.localName;
  if (DROP.has(tag)) return null;
  const children = Array.from(node.childNodes, (child, i) => rebuild(child, stageName, i));
  if (!KEEP.has(tag)) return children;
  const text = node.textContent.trim();
  if (tag === "h2") return h("h2", { key }, stageName(text, true));
  if (tag === "p") {
    // the service's bilingual lines, in the reader's language: the stage, an entry's counts
    const stage = /^阶段 \/ Stage:\s*(\S+)$/.exec(text);
    if (stage) return h("p", { key }, `${t("exp.stage")}: `, h("strong", null, stageName(stage[1])));
    const counts = /^复用 \/ Reused: (\d+) · 有用 \/ Helpful: (\d+)(.*)$/.exec(text);
    if (counts) {
      const line = `${t("exp.reused", { count: counts[1] })} · ${t("exp.helpfulCount", { count: counts[2] })}`;
      return h("p", { key, class: "muted" }, line + bilingual(counts[3]));
    }
  }
  if (LABELS.has(tag) && node.children.length === 0) return h(tag, { key }, bilingual(text));
  const props = { key };
  if (tag === "article") props["data-testid"] = "handbook-entry";
  return h(tag, props, children);
}

export function sanitizeHandbook(markup, stageName) {
  const doc = new DOMParser().parseFromString(markup, "text/html");
  return Array.from(doc.body.childNodes, (node, i) => rebuild(node, stageName, i));
}

async function fetchText(path, again = true) {
  const headers = { Accept: "text/html" };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { headers });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: "网络不可用 / The network is unavailable" } });
  }
  const text = await response.text();
  if (!response.ok) {
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (response.status === 401 && bearer) {
      if (again && (await refreshed())) return fetchText(path, false); // a new access token
      token.clear();
      window.dispatchEvent(new Event("bpc:logged-out"));
    }
    throw new ApiError(response.status, body);
  }
  return text;
}

function Handbook({ stages, stageName }) {
  const [stage, setStage] = useState(stages.length ? stages[0].key : "");
  const [book, setBook] = useState(null); // {stage, markup}
  const [error, setError] = useState(null);
  useEffect(() => {
    let current = true;
    setError(null);
    fetchText(`/experience/handbook?${query({ stage, format: "html" })}`)
      .then((markup) => current && setBook({ stage, markup }))
      .catch((exc) => current && setError(exc));
    return () => {
      current = false;
    };
  }, [stage]);
  const content = book ? sanitizeHandbook(book.markup, stageName) : null;
  const count = book ? (book.markup.match(/<article>/g) || []).length : 0;
  return html`
    <section class="exp-handbook" data-testid="handbook-screen">
      <div class="card exp-filters exp-noprint">
        <label>${t("exp.stage")}<select name="handbook-stage" value=${stage} onChange=${(e) => setStage(e.target.value)}>
          ${stages.map((s) => html`<option value=${s.key}>${bilingual(s.name)}</option>`)}
          <option value="">${t("exp.allStages")}</option>
        </select></label>
        <p class="muted">${t("exp.handbookHint")} ${book ? t("exp.handbookEntries", { count }) : ""}</p>
        <button type="button" data-testid="print" disabled=${!book || book.stage !== stage}
          onClick=${() => window.print()}>${t("exp.print")}</button>
      </div>
      <${ErrorLine} error=${error} />
      ${book === null
        ? html`<p class="loading">${t("loading")}</p>`
        : html`<article class="handbook" data-testid="handbook" data-stage=${book.stage}
            data-ready=${book.stage === stage ? "yes" : "no"}>${content}</article>`}
    </section>`;
}

// ---- the screen ---------------------------------------------------------------------------

export function Experience() {
  const [tab, setTab] = useState("search");
  const [stages, setStages] = useState(null);
  const [categories, setCategories] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("GET", "/pipelines")
      .then((a) => {
        const pipeline = a.items.find((p) => p.is_default) || a.items[0];
        setStages(pipeline ? pipeline.stages : []);
      })
      .catch((exc) => {
        setStages([]);
        setError(exc);
      });
    api("GET", "/alarm-categories").then((a) => setCategories(a.items)).catch(setError);
  }, []);
  // a stage key as its name ("contact" → 接触); the handbook's own "未分阶段 / No stage" too
  const stageName = (value, heading = false) => {
    if (!value) return t("exp.noStage");
    const found = (stages || []).find((s) => s.key === value);
    if (found) return bilingual(found.name);
    return heading ? bilingual(value) : value;
  };
  const categoryName = (key) => {
    const found = categories.find((c) => c.key === key);
    return found ? bilingual(found.name) : key;
  };
  const tabButton = (name, label) => html`<button type="button" role="tab" aria-selected=${tab === name}
    data-testid=${`tab-${name}`} class=${tab === name ? "chosen" : "choice"} onClick=${() => setTab(name)}>${t(label)}</button>`;
  return html`
    <div class="experience" data-testid="experience">
      <div class="exp-tabs exp-noprint" role="tablist">
        ${tabButton("search", "exp.tabSearch")} ${tabButton("handbook", "exp.tabHandbook")}
      </div>
      <${ErrorLine} error=${error} />
      ${stages === null
        ? html`<p class="loading">${t("loading")}</p>`
        : tab === "search"
          ? html`<${Search} stages=${stages} categories=${categories} stageName=${stageName} categoryName=${categoryName} />`
          : html`<${Handbook} stages=${stages} stageName=${stageName} />`}
    </div>`;
}
