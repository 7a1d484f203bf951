// BPC in the browser: the app shell, login and the workbench (docs/DOMAIN.md §8) as the home screen.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction } from "./action.js";
import { api, signOut, token } from "./api.js";
import { Account, PasswordChange } from "./account.js";
import { lang, onLang, setLang, t } from "./i18n.js";
import { Admin } from "./admin.js";
import { Alarms } from "./alarms.js";
import { Care } from "./care.js";
import { Experience } from "./experience.js";
import { DailyLog } from "./log.js";
import { Management } from "./management.js";
import { Opportunities } from "./opportunities.js";
import { Performance } from "./performance.js";
import { Workbench } from "./workbench.js";
import "./style.css";

// path → screen, its menu label and the lowest level that sees it (the API refuses the rest
// anyway: the menu only spares a user a screen of refusals)
const SCREENS = {
  "/": { screen: Workbench, label: "workbench", level: 1 },
  "/log": { screen: DailyLog, label: "dailyLog", level: 1 },
  "/opportunities": { screen: Opportunities, label: "opportunities", level: 1 },
  "/alarms": { screen: Alarms, label: "alarms", level: 1 },
  "/performance": { screen: Performance, label: "performance", level: 1 },
  "/management": { screen: Management, label: "management", level: 4 },
  "/experience": { screen: Experience, label: "experience", level: 1 },
  "/care": { screen: Care, label: "care", level: 1 },
  "/admin": { screen: Admin, label: "admin", level: 9 },
  "/account": { screen: Account, label: "account", level: 1 },
};

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

function Login({ onLoggedIn }) {
  const [form, setForm] = useState({ login: "", password: "", totp_code: "" });
  const [askCode, setAskCode] = useState(false); // the account has a second factor
  const { run, busy, error, setError } = useAction();
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      const body = { login: form.login, password: form.password };
      if (askCode) body.totp_code = form.totp_code;
      try {
        token.keep(await api("POST", "/auth/login", body));
      } catch (exc) {
        if (exc.code === "totp_required" && !askCode) {
          setAskCode(true); // the password was right: now the code
          return;
        }
        throw exc;
      }
      onLoggedIn(await api("GET", "/me")); // with the organisation's date and time zone
    });
  };
  const field = (name) => (event) => {
    setForm({ ...form, [name]: event.target.value });
    if (name !== "totp_code" && askCode) {
      setAskCode(false);
      setError(null);
    }
  };
  return html`
    <main class="login">
      <form onSubmit=${submit} class="card">
        <h1>${t("app")}</h1>
        <label>${t("loginName")}<input name="login" autocomplete="username" value=${form.login}
          onInput=${field("login")} required /></label>
        <label>${t("password")}<input name="password" type="password" autocomplete="current-password"
          value=${form.password} onInput=${field("password")} required /></label>
        ${askCode
          ? html`<label>${t("totpCode")}<input name="totp_code" inputmode="numeric" autocomplete="one-time-code"
              value=${form.totp_code} onInput=${field("totp_code")} required autofocus data-testid="totp-code" /></label>
              <p class="muted">${t("totpHint")}</p>`
          : null}
        <${ErrorLine} error=${error} />
        <button type="submit" disabled=${busy}>${busy ? t("loggingIn") : t("login")}</button>
        <button type="button" class="link" data-testid="lang"
          onClick=${() => setLang(lang() === "zh" ? "en" : "zh")}>${t("switchLanguage")}</button>
      </form>
    </main>`;
}

function Shell({ me, route, onLogout, children }) {
  const links = Object.entries(SCREENS)
    .filter(([, s]) => me.level >= s.level)
    .map(([path, s]) => html`<a href=${`#${path}`} class=${route === path ? "active" : ""}>${t(s.label)}</a> `);
  return html`
    <header class="bar">
      <strong class="brand">${t("app")}</strong>
      <nav>${links}</nav>
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
    const mustChange = () => api("GET", "/me").then(setMe).catch(() => {});
    window.addEventListener("bpc:logged-out", out);
    window.addEventListener("bpc:password-change-required", mustChange);
    if (token.get()) {
      api("GET", "/me")
        .then(setMe)
        .catch(() => token.clear())
        .finally(() => setChecked(true));
    }
    return () => {
      window.removeEventListener("bpc:logged-out", out);
      window.removeEventListener("bpc:password-change-required", mustChange);
    };
  }, []);
  if (!checked) return html`<p class="loading">${t("loading")}</p>`;
  if (!me) return html`<${Login} onLoggedIn=${setMe} />`;
  const logout = () => {
    signOut();
    setMe(null);
  };
  if (me.must_change_password) {
    // a reset password buys nothing but its change (the API refuses everything else)
    return html`<main class="login"><div class="forced">
      <${PasswordChange} me=${me} forced=${true} onChanged=${() => api("GET", "/me").then(setMe)} />
      <button type="button" class="link" data-testid="logout" onClick=${logout}>${t("logout")}</button>
    </div></main>`;
  }
  const Screen = me.level >= SCREENS[route].level ? SCREENS[route].screen : Workbench;
  return html`<${Shell} me=${me} route=${route} onLogout=${logout}>
    <${Screen} me=${me} onMe=${setMe} onSignedOut=${() => setMe(null)} /></${Shell}>`;
}

document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
render(html`<${App} />`, document.getElementById("app"));
