// BPC in the browser: the app shell, login and the workbench (DOMAIN.md §8) as the home screen.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { useAction } from "./action.js";
import { api, token } from "./api.js";
import { bilingual, lang, onLang, setLang, t } from "./i18n.js";
import { Alarms } from "./alarms.js";
import { DailyLog } from "./log.js";
import { Opportunities } from "./opportunities.js";
import { Workbench } from "./workbench.js";
import "./style.css";

const SCREENS = { "/": Workbench, "/log": DailyLog, "/opportunities": Opportunities, "/alarms": Alarms };

function useRoute() {
  const read = () => {
    const path = location.hash.replace(/^#/, "") || "/";
    return SCREENS[path] ? path : "/";
  };
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const changed = () => setRoute(read());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function useLanguage() {
  const [, set] = useState(lang());
  useEffect(() => onLang(set), []);
}

function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert" data-testid="error">${bilingual(error.message)}</p>`;
}

function Login({ onLoggedIn }) {
  const [form, setForm] = useState({ login: "", password: "" });
  const { run, busy, error } = useAction();
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      const answer = await api("POST", "/auth/login", form);
      token.set(answer.token);
      onLoggedIn(await api("GET", "/me")); // with the organisation's date and time zone
    });
  };
  const field = (name) => (event) => setForm({ ...form, [name]: event.target.value });
  return html`
    <main class="login">
      <form onSubmit=${submit} class="card">
        <h1>${t("app")}</h1>
        <label>${t("loginName")}<input name="login" autocomplete="username" value=${form.login}
          onInput=${field("login")} required /></label>
        <label>${t("password")}<input name="password" type="password" autocomplete="current-password"
          value=${form.password} onInput=${field("password")} required /></label>
        <${ErrorNote} error=${error} />
        <button type="submit" disabled=${busy}>${busy ? t("loggingIn") : t("login")}</button>
        <button type="button" class="link" data-testid="lang"
          onClick=${() => setLang(lang() === "zh" ? "en" : "zh")}>${t("switchLanguage")}</button>
      </form>
    </main>`;
}

function Shell({ me, route, onLogout, children }) {
  const link = (path, label) => html`<a href=${`#${path}`} class=${route === path ? "active" : ""}>${label}</a>`;
  return html`
    <header class="bar">
      <strong class="brand">${t("app")}</strong>
      <nav>${link("/", t("workbench"))} ${link("/log", t("dailyLog"))} ${link("/opportunities", t("opportunities"))} ${link("/alarms", t("alarms"))}</nav>
      <span class="who" data-testid="who">${t("hello", { name: me.name })} · ${t("level", { level: me.level })}</span>
      <button type="button" class="link" data-testid="lang"
        onClick=${() => setLang(lang() === "zh" ? "en" : "zh")}>${t("switchLanguage")}</button>
      <button type="button" class="link" data-testid="logout" onClick=${onLogout}>${t("logout")}</button>
    </header>
    <main class="page">${children}</main>`;
}

function App() {
  useLanguage();
  const route = useRoute();
  const [me, setMe] = useState(null);
  const [checked, setChecked] = useState(!token.get());
  useEffect(() => {
    const out = () => setMe(null);
    window.addEventListener("bpc:logged-out", out);
    if (token.get()) {
      api("GET", "/me")
        .then(setMe)
        .catch(() => token.clear())
        .finally(() => setChecked(true));
    }
    return () => window.removeEventListener("bpc:logged-out", out);
  }, []);
  if (!checked) return html`<p class="loading">${t("loading")}</p>`;
  if (!me) return html`<${Login} onLoggedIn=${setMe} />`;
  const logout = () => {
    token.clear();
    setMe(null);
  };
  const Screen = SCREENS[route];
  return html`<${Shell} me=${me} route=${route} onLogout=${logout}><${Screen} me=${me} /></${Shell}>`;
}

document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
render(html`<${App} />`, document.getElementById("app"));
