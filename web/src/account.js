// 账号与安全 (every user): change one's password, the devices signed in and signing out of all
// of them, and — level 6 and above — the authenticator app as a second factor, enrolled by
// scanning its QR code (docs/API.md "Passwords and sessions"; docs/DOMAIN.md §1). `PasswordChange` is
// also the only screen a user with a reset (temporary) password sees until they change it.
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction } from "./action.js";
import { api, token } from "./api.js";
import { register, t } from "./i18n.js";

register({
  zh: {
    "account.password": "修改密码",
    "account.mustChange": "管理员已为你重置密码。请先设置新密码，之后才能继续使用。",
    "account.old": "原密码",
    "account.oldTemporary": "临时密码",
    "account.new": "新密码",
    "account.repeat": "再次输入新密码",
    "account.rule": "至少 10 个字符，包含字母、数字、符号中的两类，不含登录名。",
    "account.mismatch": "两次输入的新密码不一致",
    "account.change": "修改密码",
    "account.changed": "密码已修改。其他设备已全部退出登录。",
    "account.sessions": "登录设备",
    "account.current": "本设备",
    "account.since": "登录于 {at}",
    "account.lastUsed": "最近使用 {at}",
    "account.unknownDevice": "未知设备",
    "account.logoutAll": "在所有设备退出登录",
    "account.confirmLogoutAll": "所有设备（包括本设备）都将立即退出登录。确定吗？",
    "account.confirm": "确定退出",
    "account.cancel": "取消",
    "account.totp": "动态验证码（两步验证）",
    "account.totpOn": "已启用：登录时需输入身份验证器中的 6 位动态码。",
    "account.totpOff": "未启用。启用后，登录需要密码和手机身份验证器中的动态码。",
    "account.totpStart": "启用动态验证码",
    "account.totpScan": "用身份验证器（如 Microsoft Authenticator、Google Authenticator、腾讯身份验证器）扫描二维码，然后输入它显示的 6 位动态码。",
    "account.totpSecret": "无法扫描时手动输入密钥：",
    "account.code": "6 位动态码",
    "account.totpConfirm": "确认启用",
    "account.totpEnabled": "动态验证码已启用",
    "account.totpDisable": "停用动态验证码",
    "account.totpDisabled": "动态验证码已停用",
    "account.passwordNow": "当前密码",
  },
  en: {
    "account.password": "Change password",
    "account.mustChange": "An administrator has reset your password. Set a new one before you go on.",
    "account.old": "Current password",
    "account.oldTemporary": "Temporary password",
    "account.new": "New password",
    "account.repeat": "New password again",
    "account.rule": "At least 10 characters, of two kinds among letters, digits and signs, without your login.",
    "account.mismatch": "The two new passwords differ",
    "account.change": "Change password",
    "account.changed": "Password changed. Every other device has been signed out.",
    "account.sessions": "Signed-in devices",
    "account.current": "this device",
    "account.since": "signed in {at}",
    "account.lastUsed": "last used {at}",
    "account.unknownDevice": "unknown device",
    "account.logoutAll": "Sign out everywhere",
    "account.confirmLogoutAll": "Every device, this one included, will be signed out at once. Go ahead?",
    "account.confirm": "Sign out everywhere",
    "account.cancel": "Cancel",
    "account.totp": "Authenticator code (two-step sign-in)",
    "account.totpOn": "On: signing in asks for the 6-digit code of your authenticator app.",
    "account.totpOff": "Off. Once on, signing in needs your password and the code of an authenticator app on your phone.",
    "account.totpStart": "Turn on authenticator codes",
    "account.totpScan": "Scan the QR code with an authenticator app (Microsoft Authenticator, Google Authenticator, …), then type the 6-digit code it shows.",
    "account.totpSecret": "Cannot scan? Type this key:",
    "account.code": "6-digit code",
    "account.totpConfirm": "Turn on",
    "account.totpEnabled": "Authenticator codes are on",
    "account.totpDisable": "Turn off authenticator codes",
    "account.totpDisabled": "Authenticator codes are off",
    "account.passwordNow": "Your password",
  },
});

const when = (at) => (at ? new Date(at).toLocaleString() : "");

// a user agent, shortened to what a person recognises
function device(agent) {
  if (!agent) return t("account.unknownDevice");
  const os = /iPhone|iPad|Android|Windows|Mac OS X|Linux/.exec(agent);
  const browser = /MicroMessenger|DingTalk|Edg|Chrome|Firefox|Safari/.exec(agent);
  const names = { MicroMessenger: "WeChat", Edg: "Edge", "Mac OS X": "macOS" };
  const parts = [os && (names[os[0]] || os[0]), browser && (names[browser[0]] || browser[0])].filter(Boolean);
  return parts.length ? parts.join(" · ") : agent.slice(0, 60);
}

export function PasswordChange({ me, forced, onChanged }) {
  const [form, setForm] = useState({ old: "", new: "", repeat: "" });
  const [done, setDone] = useState(false);
  const { run, busy, error, setError } = useAction();
  const text = (name) => (event) => setForm({ ...form, [name]: event.target.value });
  const submit = (event) => {
    event.preventDefault();
    setDone(false);
    if (form.new !== form.repeat) {
      setError({ message: t("account.mismatch"), details: {} });
      return;
    }
    run(async () => {
      const answer = await api("POST", "/auth/password", { old_password: form.old, new_password: form.new });
      token.keep(answer); // every earlier token ended: this device goes on with the new pair
      setForm({ old: "", new: "", repeat: "" });
      setDone(true);
      if (onChanged) onChanged(answer);
    });
  };
  const labels = { old_password: t(forced ? "account.oldTemporary" : "account.old"), new_password: t("account.new") };
  return html`
    <form class="card account-form" onSubmit=${submit} data-testid="password-form">
      <h2>${t("account.password")}</h2>
      ${forced ? html`<p class="warning" data-testid="must-change">${t("account.mustChange")}</p>` : null}
      <input type="text" name="username" autocomplete="username" value=${me.login} hidden readonly />
      <label>${labels.old_password}<input name="old-password" type="password" autocomplete="current-password"
        required value=${form.old} onInput=${text("old")} /></label>
      <label>${t("account.new")}<input name="new-password" type="password" autocomplete="new-password"
        required value=${form.new} onInput=${text("new")} /></label>
      <label>${t("account.repeat")}<input name="repeat-password" type="password" autocomplete="new-password"
        required value=${form.repeat} onInput=${text("repeat")} /></label>
      <p class="muted">${t("account.rule")}</p>
      <${ErrorLine} error=${error} labels=${labels} />
      ${done && !error ? html`<p class="ok" data-testid="password-changed">${t("account.changed")}</p>` : null}
      <button type="submit" disabled=${busy}>${t("account.change")}</button>
    </form>`;
}

function Sessions({ onSignedOut }) {
  const [items, setItems] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const { run, busy, error } = useAction();
  useEffect(() => {
    api("GET", "/auth/sessions").then((page) => setItems(page.items)).catch(() => setItems([]));
  }, []);
  const all = () =>
    run(async () => {
      await api("POST", "/auth/logout-all");
      token.clear();
      onSignedOut();
    });
  return html`
    <section class="card" data-testid="sessions">
      <h2>${t("account.sessions")}</h2>
      ${items === null
        ? html`<p class="loading">${t("loading")}</p>`
        : html`<ul>${items.map((s) => html`<li data-testid="session">
            <span class="title">${device(s.agent)} ${s.current ? html`<span class="tag ok">${t("account.current")}</span>` : null}</span>
            <span class="muted">${s.address || ""}</span>
            <span class="muted">${t("account.since", { at: when(s.created_at) })} · ${t("account.lastUsed", { at: when(s.last_refreshed_at) })}</span>
          </li>`)}</ul>`}
      <${ErrorLine} error=${error} />
      ${confirming
        ? html`<div class="warning" role="alertdialog" data-testid="confirm-logout-all">
            <p>${t("account.confirmLogoutAll")}</p>
            <div class="actions">
              <button type="button" data-testid="confirm" disabled=${busy} onClick=${all}>${t("account.confirm")}</button>
              <button type="button" class="link" onClick=${() => setConfirming(false)}>${t("account.cancel")}</button>
            </div>
          </div>`
        : html`<button type="button" class="small" data-testid="logout-all" onClick=${() => setConfirming(true)}>
            ${t("account.logoutAll")}</button>`}
    </section>`;
}

function SecondFactor({ me, onChanged }) {
  const [setup, setSetup] = useState(null); // the QR code and secret being enrolled
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [notice, setNotice] = useState(null);
  const { run, busy, error } = useAction();
  const start = () => run(async () => {
    setNotice(null);
    setSetup(await api("POST", "/auth/totp/setup"));
  });
  const enable = (event) => {
    event.preventDefault();
    run(async () => {
      await api("POST", "/auth/totp/enable", { code });
      setSetup(null);
      setCode("");
      setNotice(t("account.totpEnabled"));
      onChanged();
    });
  };
  const disable = (event) => {
    event.preventDefault();
    run(async () => {
      await api("POST", "/auth/totp/disable", { password, code });
      setCode("");
      setPassword("");
      setNotice(t("account.totpDisabled"));
      onChanged();
    });
  };
  const labels = { code: t("account.code"), password: t("account.passwordNow") };
  const codeInput = html`<label>${t("account.code")}<input name="totp-code" inputmode="numeric" autocomplete="one-time-code"
    pattern="[0-9 ]{6,8}" required value=${code} onInput=${(e) => setCode(e.target.value)} /></label>`;
  return html`
    <section class="card" data-testid="totp">
      <h2>${t("account.totp")}</h2>
      ${notice ? html`<p class="ok" data-testid="totp-notice">${notice}</p>` : null}
      <p class="muted" data-testid="totp-state">${me.totp_enabled ? t("account.totpOn") : t("account.totpOff")}</p>
      ${me.totp_enabled
        ? html`<form class="account-form" onSubmit=${disable}>
            <label>${t("account.passwordNow")}<input name="totp-password" type="password" autocomplete="current-password"
              required value=${password} onInput=${(e) => setPassword(e.target.value)} /></label>
            ${codeInput}
            <${ErrorLine} error=${error} labels=${labels} />
            <button type="submit" class="small" disabled=${busy} data-testid="totp-disable">${t("account.totpDisable")}</button>
          </form>`
        : setup
          ? html`<form class="account-form" onSubmit=${enable} data-testid="totp-enrol">
              <p>${t("account.totpScan")}</p>
              <img class="qr" src=${setup.qr_svg} alt="QR" data-testid="totp-qr" width="220" height="220" />
              <p class="muted">${t("account.totpSecret")} <code data-testid="totp-secret">${setup.secret}</code></p>
              ${codeInput}
              <${ErrorLine} error=${error} labels=${labels} />
              <button type="submit" disabled=${busy} data-testid="totp-confirm">${t("account.totpConfirm")}</button>
            </form>`
          : html`<${ErrorLine} error=${error} />
              <button type="button" class="small" disabled=${busy} data-testid="totp-start" onClick=${start}>${t("account.totpStart")}</button>`}
    </section>`;
}

export function Account({ me, onMe, onSignedOut }) {
  const reload = () => api("GET", "/me").then(onMe).catch(() => {});
  return html`
    <div class="account" data-testid="account">
      <${PasswordChange} me=${me} />
      <${Sessions} onSignedOut=${onSignedOut} />
      ${me.level >= 6 ? html`<${SecondFactor} me=${me} onChanged=${reload} />` : null}
    </div>`;
}
