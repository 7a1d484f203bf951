// 系统管理 (level 9): the org unit tree with its people, creating a unit; users by unit in
// pinyin order of name, searching them, creating one, changing level / supervisor / unit, and
// deactivating one — whose holdings all pass to their supervisor (docs/API.md "Health and
// identity"; docs/DOMAIN.md §1).
import { useEffect, useMemo, useState } from "preact/hooks";
import { html } from "htm/preact";
import { ErrorLine, useAction } from "./action.js";
import { api } from "./api.js";
import { bilingual, lang, register, t } from "./i18n.js";
import "./admin.css";

register({
  zh: {
    "admin.tree": "组织架构",
    "admin.allUnits": "全部单元",
    "admin.people": "{count} 人",
    "admin.newUnit": "新建组织单元",
    "admin.unitName": "单元名称",
    "admin.parent": "上级单元",
    "admin.noParent": "（顶层）",
    "admin.create": "创建",
    "admin.unitCreated": "已创建组织单元：{name}",
    "admin.users": "用户",
    "admin.search": "按姓名或账号搜索",
    "admin.showInactive": "显示已停用的用户",
    "admin.count": "{count} 人",
    "admin.name": "姓名",
    "admin.login": "账号",
    "admin.password": "初始密码",
    "admin.levelLabel": "级别",
    "admin.supervisor": "上级",
    "admin.supervisorOf": "上级：{name}",
    "admin.unit": "组织单元",
    "admin.noSupervisor": "（无上级）",
    "admin.active": "在职",
    "admin.inactive": "已停用",
    "admin.edit": "修改",
    "admin.save": "保存",
    "admin.cancel": "取消",
    "admin.saved": "已保存：{name}",
    "admin.deactivate": "停用",
    "admin.confirmDeactivate": "停用后，{name}（{login}）将无法登录，其名下的全部客户、商机、日志、报警和下属都将移交给其上级 {supervisor}。确定停用吗？",
    "admin.confirm": "确认停用",
    "admin.deactivated": "已停用：{name}，名下全部移交给 {supervisor}",
    "admin.newUser": "新建用户",
    "admin.userCreated": "已创建用户：{name}（{login}）",
    "admin.none": "没有符合条件的用户",
    "admin.level1": "1 级 试用业务员",
    "admin.level2": "2 级 业务员",
    "admin.level3": "3 级 资深业务员/客服",
    "admin.level4": "4 级 主管",
    "admin.level5": "5 级 部门经理",
    "admin.level6": "6 级 分公司总经理",
    "admin.level7": "7 级 区域总监",
    "admin.level8": "8 级 集团高管",
    "admin.level9": "9 级 董事会/管理员",
    "admin.security": "账号安全",
    "admin.reset": "重置密码",
    "admin.confirmReset": "将为 {name}（{login}）生成一个临时密码：其所有设备立即退出登录，动态验证码被清除；临时密码 72 小时内有效，登录后必须先修改。确定吗？",
    "admin.confirmResetButton": "确认重置",
    "admin.temporary": "{name} 的临时密码（只显示这一次，请当面或电话告知本人）：",
    "admin.temporaryUntil": "有效至 {at}",
    "admin.unlock": "解除登录限制",
    "admin.unlocked": "已解除 {name} 的登录限制",
    "admin.notLocked": "{name} 当前没有登录限制",
    "admin.logoutAll": "强制下线",
    "admin.loggedOut": "{name} 已在所有设备退出登录（{count} 个会话）",
    "admin.locks": "登录受限",
    "admin.lockAccount": "账号 {key}",
    "admin.lockAddress": "地址 {key}",
    "admin.lockLine": "连续失败 {failures} 次，{seconds} 秒后可再试",
  },
  en: {
    "admin.tree": "Organisation",
    "admin.allUnits": "All units",
    "admin.people": "{count} people",
    "admin.newUnit": "New org unit",
    "admin.unitName": "Unit name",
    "admin.parent": "Parent unit",
    "admin.noParent": "(top level)",
    "admin.create": "Create",
    "admin.unitCreated": "Org unit created: {name}",
    "admin.users": "Users",
    "admin.search": "Search by name or login",
    "admin.showInactive": "Show deactivated users",
    "admin.count": "{count} people",
    "admin.name": "Name",
    "admin.login": "Login",
    "admin.password": "Initial password",
    "admin.levelLabel": "Level",
    "admin.supervisor": "Supervisor",
    "admin.supervisorOf": "Supervisor: {name}",
    "admin.unit": "Org unit",
    "admin.noSupervisor": "(no supervisor)",
    "admin.active": "active",
    "admin.inactive": "deactivated",
    "admin.edit": "Change",
    "admin.save": "Save",
    "admin.cancel": "Cancel",
    "admin.saved": "Saved: {name}",
    "admin.deactivate": "Deactivate",
    "admin.confirmDeactivate": "Once deactivated, {name} ({login}) can no longer log in, and everything they hold — customers, opportunities, logs, alarms and direct reports — passes to their supervisor {supervisor}. Deactivate?",
    "admin.confirm": "Deactivate",
    "admin.deactivated": "Deactivated: {name}; everything they held passed to {supervisor}",
    "admin.newUser": "New user",
    "admin.userCreated": "User created: {name} ({login})",
    "admin.none": "No matching users",
    "admin.level1": "1 trainee",
    "admin.level2": "2 salesperson",
    "admin.level3": "3 senior rep / customer service",
    "admin.level4": "4 team supervisor",
    "admin.level5": "5 department manager",
    "admin.level6": "6 branch manager",
    "admin.level7": "7 regional director",
    "admin.level8": "8 group executive",
    "admin.level9": "9 board / administrator",
    "admin.security": "Account security",
    "admin.reset": "Reset password",
    "admin.confirmReset": "A temporary password will be made for {name} ({login}): every device of theirs is signed out at once and their authenticator removed; the temporary password is good for 72 hours and must be changed at the next sign-in. Go ahead?",
    "admin.confirmResetButton": "Reset",
    "admin.temporary": "Temporary password of {name} (shown this once: tell them in person or by phone):",
    "admin.temporaryUntil": "good until {at}",
    "admin.unlock": "Lift login wait",
    "admin.unlocked": "{name} may sign in again at once",
    "admin.notLocked": "{name} had no login wait",
    "admin.logoutAll": "Sign out everywhere",
    "admin.loggedOut": "{name} was signed out everywhere ({count} sessions)",
    "admin.locks": "Login waits",
    "admin.lockAccount": "account {key}",
    "admin.lockAddress": "address {key}",
    "admin.lockLine": "{failures} failures in a row; next try in {seconds} s",
  },
});

const LEVELS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const collator = new Intl.Collator("zh-CN"); // pinyin order: 李 before 张
const byName = (a, b) => collator.compare(a.name, b.name) || collator.compare(a.login || "", b.login || "");

// every page of a list route
async function all(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

// A refusal: the API's message and each field's reason, the field named as on the form.
function Refusal({ error }) {
  const labels = {
    name: t("admin.name"), login: t("admin.login"), password: t("admin.password"), level: t("admin.levelLabel"),
    supervisor_id: t("admin.supervisor"), org_unit_id: t("admin.unit"), parent_id: t("admin.parent"),
    active: t("admin.active"),
  };
  return html`<${ErrorLine} error=${error} labels=${labels} />`;
}

// ---- the tree ----------------------------------------------------------------------------

function UnitNode({ unit, children, chosen, onChoose, counts }) {
  const kids = children.get(unit.id) || [];
  return html`
    <li>
      <button type="button" class=${chosen === unit.id ? "chosen" : "choice"} data-testid="unit" data-id=${unit.id}
        title=${unit.name} onClick=${() => onChoose(unit.id)}>${bilingual(unit.name)} <span class="muted">${t("admin.people", { count: counts.get(unit.id) || 0 })}</span></button>
      ${kids.length
        ? html`<ul>${kids.map((k) => html`<${UnitNode} key=${k.id} unit=${k} children=${children} chosen=${chosen}
            onChoose=${onChoose} counts=${counts} />`)}</ul>`
        : null}
    </li>`;
}

function NewUnit({ units, chosen, onCreated }) {
  const [name, setName] = useState("");
  const [parent, setParent] = useState(null); // null: the chosen unit
  const [done, setDone] = useState(null);
  const { run, busy, error } = useAction();
  const parentId = parent ?? (chosen || (units[0] && units[0].id) || "");
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      const unit = await api("POST", "/org/units", { name, parent_id: parentId || null });
      setName("");
      setParent(null);
      setDone(unit.name);
      onCreated(unit);
    });
  };
  return html`
    <form class="admin-form" onSubmit=${submit} data-testid="new-unit">
      <h2>${t("admin.newUnit")}</h2>
      <label>${t("admin.unitName")}<input name="unit-name" required maxlength="200" value=${name}
        onInput=${(e) => setName(e.target.value)} /></label>
      <label>${t("admin.parent")}<select name="parent" value=${parentId} onChange=${(e) => setParent(e.target.value)}>
        <option value="">${t("admin.noParent")}</option>
        ${units.map((u) => html`<option value=${u.id}>${"　".repeat(u.depth)}${bilingual(u.name)}</option>`)}
      </select></label>
      <${Refusal} error=${error} />
      ${done && !error ? html`<p class="ok" data-testid="unit-created">${t("admin.unitCreated", { name: done })}</p>` : null}
      <button type="submit" disabled=${busy}>${t("admin.create")}</button>
    </form>`;
}

// ---- users -------------------------------------------------------------------------------

function LevelSelect({ value, onChange, name = "level" }) {
  return html`<select name=${name} value=${String(value)} onChange=${(e) => onChange(Number(e.target.value))}>
    ${LEVELS.map((l) => html`<option value=${String(l)}>${t(`admin.level${l}`)}</option>`)}
  </select>`;
}

function SupervisorSelect({ value, onChange, users, except }) {
  return html`<select name="supervisor" value=${value || ""} onChange=${(e) => onChange(e.target.value || null)}>
    <option value="">${t("admin.noSupervisor")}</option>
    ${users.filter((u) => u.active && u.id !== except).map((u) => html`<option value=${u.id}>
      ${u.name}（${u.login} · ${t("level", { level: u.level })}）</option>`)}
  </select>`;
}

function UnitSelect({ value, onChange, units }) {
  return html`<select name="unit" value=${value || ""} onChange=${(e) => onChange(e.target.value)}>
    ${units.map((u) => html`<option value=${u.id}>${"　".repeat(u.depth)}${bilingual(u.name)}</option>`)}
  </select>`;
}

function NewUser({ units, users, chosen, onCreated }) {
  const blank = { login: "", password: "", name: "", level: 2, org_unit_id: null, supervisor_id: null };
  const [form, setForm] = useState(blank);
  const [done, setDone] = useState(null);
  const { run, busy, error } = useAction();
  const unitId = form.org_unit_id ?? (chosen || (units[0] && units[0].id) || "");
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  const text = (name) => (event) => setForm({ ...form, [name]: event.target.value });
  const submit = (event) => {
    event.preventDefault();
    setDone(null);
    run(async () => {
      const user = await api("POST", "/users", { ...form, org_unit_id: unitId });
      setForm(blank);
      setDone(user);
      onCreated(user);
    });
  };
  return html`
    <form class="card admin-form" onSubmit=${submit} data-testid="new-user">
      <h2>${t("admin.newUser")}</h2>
      <div class="admin-grid">
        <label>${t("admin.name")}<input name="name" required maxlength="200" value=${form.name} onInput=${text("name")} /></label>
        <label>${t("admin.login")}<input name="login" required maxlength="64" autocomplete="off" value=${form.login}
          onInput=${text("login")} /></label>
        <label>${t("admin.password")}<input name="password" type="password" required autocomplete="new-password"
          value=${form.password} onInput=${text("password")} /></label>
        <label>${t("admin.levelLabel")}<${LevelSelect} value=${form.level} onChange=${set("level")} /></label>
        <label>${t("admin.unit")}<${UnitSelect} value=${unitId} units=${units} onChange=${set("org_unit_id")} /></label>
        <label>${t("admin.supervisor")}<${SupervisorSelect} value=${form.supervisor_id} users=${users}
          onChange=${set("supervisor_id")} /></label>
      </div>
      <${Refusal} error=${error} />
      ${done && !error
        ? html`<p class="ok" data-testid="user-created">${t("admin.userCreated", { name: done.name, login: done.login })}</p>`
        : null}
      <button type="submit" disabled=${busy}>${t("admin.create")}</button>
    </form>`;
}

function UserEditor({ user, users, units, byId, onSaved, onClose }) {
  const [form, setForm] = useState({ level: user.level, supervisor_id: user.supervisor_id, org_unit_id: user.org_unit_id });
  const [confirming, setConfirming] = useState(false);
  const { run, busy, error } = useAction();
  const supervisor = byId.get(user.supervisor_id);
  const save = (event) => {
    event.preventDefault();
    const changes = {};
    for (const key of ["level", "supervisor_id", "org_unit_id"]) if (form[key] !== user[key]) changes[key] = form[key];
    if (!Object.keys(changes).length) return onClose();
    run(async () => onSaved(await api("PATCH", `/users/${user.id}`, changes), "saved"));
  };
  const deactivate = () =>
    run(async () => {
      const changed = await api("PATCH", `/users/${user.id}`, { active: false });
      setConfirming(false);
      onSaved(changed, "deactivated");
    });
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  return html`
    <form class="admin-editor" onSubmit=${save} data-testid="editor">
      <div class="admin-grid">
        <label>${t("admin.levelLabel")}<${LevelSelect} value=${form.level} onChange=${set("level")} /></label>
        <label>${t("admin.supervisor")}<${SupervisorSelect} value=${form.supervisor_id} users=${users} except=${user.id}
          onChange=${set("supervisor_id")} /></label>
        <label>${t("admin.unit")}<${UnitSelect} value=${form.org_unit_id} units=${units} onChange=${set("org_unit_id")} /></label>
      </div>
      <${Refusal} error=${error} />
      ${confirming
        ? html`<div class="warning admin-confirm" role="alertdialog" data-testid="confirm-deactivate">
            <p>${t("admin.confirmDeactivate", {
              name: user.name,
              login: user.login,
              supervisor: supervisor ? supervisor.name : t("admin.noSupervisor"),
            })}</p>
            <div class="actions">
              <button type="button" data-testid="confirm" disabled=${busy} onClick=${deactivate}>${t("admin.confirm")}</button>
              <button type="button" class="link" onClick=${() => setConfirming(false)}>${t("admin.cancel")}</button>
            </div>
          </div>`
        : html`<div class="actions">
            <button type="submit" class="small" data-testid="save" disabled=${busy}>${t("admin.save")}</button>
            ${user.active
              ? html`<button type="button" class="small admin-danger" data-testid="deactivate"
                  onClick=${() => setConfirming(true)}>${t("admin.deactivate")}</button>`
              : null}
            <button type="button" class="link" onClick=${onClose}>${t("admin.cancel")}</button>
          </div>`}
      ${user.active ? html`<${UserSecurity} user=${user} />` : null}
    </form>`;
}

// reset a password (the temporary one shown once), lift a login wait, sign out everywhere
function UserSecurity({ user }) {
  const [confirming, setConfirming] = useState(false);
  const [temporary, setTemporary] = useState(null);
  const [notice, setNotice] = useState(null);
  const { run, busy, error } = useAction();
  const act = (work) => run(async () => {
    setNotice(null);
    setTemporary(null);
    await work();
  });
  const reset = () => act(async () => {
    setTemporary(await api("POST", `/users/${user.id}/password-reset`));
    setConfirming(false);
  });
  const unlock = () => act(async () => {
    const answer = await api("POST", `/users/${user.id}/unlock`);
    setNotice(t(answer.unlocked ? "admin.unlocked" : "admin.notLocked", { name: user.name }));
  });
  const logoutAll = () => act(async () => {
    const answer = await api("POST", `/users/${user.id}/logout-all`);
    setNotice(t("admin.loggedOut", { name: user.name, count: answer.ended_sessions }));
  });
  return html`
    <div class="admin-security" data-testid="security">
      <h3>${t("admin.security")}</h3>
      ${confirming
        ? html`<div class="warning admin-confirm" role="alertdialog" data-testid="confirm-reset">
            <p>${t("admin.confirmReset", { name: user.name, login: user.login })}</p>
            <div class="actions">
              <button type="button" data-testid="confirm" disabled=${busy} onClick=${reset}>${t("admin.confirmResetButton")}</button>
              <button type="button" class="link" onClick=${() => setConfirming(false)}>${t("admin.cancel")}</button>
            </div>
          </div>`
        : html`<div class="actions">
            <button type="button" class="small" data-testid="reset" onClick=${() => setConfirming(true)}>${t("admin.reset")}</button>
            <button type="button" class="small" data-testid="unlock" disabled=${busy} onClick=${unlock}>${t("admin.unlock")}</button>
            <button type="button" class="small" data-testid="logout-user" disabled=${busy} onClick=${logoutAll}>${t("admin.logoutAll")}</button>
          </div>`}
      ${temporary
        ? html`<p class="ok" data-testid="temporary">${t("admin.temporary", { name: user.name })}
            <code data-testid="temporary-password">${temporary.temporary_password}</code>
            <span class="muted">${t("admin.temporaryUntil", { at: new Date(temporary.expires_at).toLocaleString() })}</span></p>`
        : null}
      ${notice ? html`<p class="ok" data-testid="security-notice">${notice}</p>` : null}
      <${ErrorLine} error=${error} />
    </div>`;
}

function Locks() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    api("GET", "/auth/locks").then((page) => setItems(page.items)).catch(() => setItems([]));
  }, []);
  if (!items.length) return null;
  return html`
    <section class="card" data-testid="locks">
      <h2>${t("admin.locks")}</h2>
      <ul>${items.map((l) => html`<li data-testid="lock">
        <span class="title">${l.name ? html`<b>${l.name}</b> ` : null}${t(l.scope === "account" ? "admin.lockAccount" : "admin.lockAddress", { key: l.key })}</span>
        <span class="muted">${t("admin.lockLine", { failures: l.failures, seconds: l.retry_after })}</span>
      </li>`)}</ul>
    </section>`;
}

function UserRow({ user, editing, onEdit, byId, unitName, showUnit, editor }) {
  const supervisor = byId.get(user.supervisor_id);
  return html`
    <li class=${`admin-user${user.active ? "" : " inactive"}`} data-testid="user" data-login=${user.login}
      data-active=${user.active ? "yes" : "no"}>
      <div class="admin-user-line">
        <span class="title"><b data-testid="user-name">${user.name}</b> <span class="muted">${user.login}</span></span>
        <span class="tag" data-testid="user-level">${t("level", { level: user.level })}</span>
        <span class="muted">${t("admin.supervisorOf", { name: supervisor ? supervisor.name : t("admin.noSupervisor") })}</span>
        ${showUnit ? html`<span class="muted">${unitName(user.org_unit_id)}</span>` : null}
        <span class=${user.active ? "tag ok" : "tag"} data-testid="user-active">
          ${user.active ? t("admin.active") : t("admin.inactive")}</span>
        ${editing ? null : html`<button type="button" class="small" data-testid="edit" onClick=${onEdit}>${t("admin.edit")}</button>`}
      </div>
      ${editing ? editor : null}
    </li>`;
}

// ---- the screen --------------------------------------------------------------------------

export function Admin() {
  const [units, setUnits] = useState(null);
  const [users, setUsers] = useState(null);
  const [chosen, setChosen] = useState(""); // "" = every unit
  const [q, setQ] = useState("");
  const [inactive, setInactive] = useState(false);
  const [editing, setEditing] = useState(null);
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  const loadUnits = () => all("/org/units").then(setUnits).catch((exc) => { setUnits([]); setError(exc); });
  const loadUsers = () => all("/users").then(setUsers).catch((exc) => { setUsers([]); setError(exc); });
  useEffect(() => {
    loadUnits();
    loadUsers();
  }, []);

  // the tree: children by parent (a unit whose parent is not listed is a root), in name order
  const tree = useMemo(() => {
    const list = units || [];
    const ids = new Set(list.map((u) => u.id));
    const children = new Map();
    const roots = [];
    for (const unit of [...list].sort(byName)) {
      if (unit.parent_id && ids.has(unit.parent_id) && unit.parent_id !== unit.id) {
        if (!children.has(unit.parent_id)) children.set(unit.parent_id, []);
        children.get(unit.parent_id).push(unit);
      } else roots.push(unit);
    }
    const flat = [];
    const seen = new Set();
    const walk = (unit, depth) => {
      if (seen.has(unit.id)) return;
      seen.add(unit.id);
      flat.push({ ...unit, depth });
      for (const kid of children.get(unit.id) || []) walk(kid, depth + 1);
    };
    roots.forEach((r) => walk(r, 0));
    return { children, roots, flat };
  }, [units]);
  const sorted = useMemo(() => [...(users || [])].sort(byName), [users]);
  const byId = useMemo(() => new Map(sorted.map((u) => [u.id, u])), [sorted]);
  const counts = useMemo(() => {
    const map = new Map();
    for (const u of sorted) if (u.active) map.set(u.org_unit_id, (map.get(u.org_unit_id) || 0) + 1);
    return map;
  }, [sorted]);
  const unitName = (id) => bilingual((units || []).find((u) => u.id === id)?.name || id || "");

  if (units === null || users === null) return html`<p class="loading">${t("loading")}</p>`;
  const needle = q.trim().toLowerCase();
  const shown = sorted.filter(
    (u) =>
      (!chosen || u.org_unit_id === chosen) &&
      (inactive || u.active || u.id === editing) &&
      (!needle || u.name.toLowerCase().includes(needle) || u.login.toLowerCase().includes(needle)),
  );
  const saved = (user, how) => {
    setUsers((list) => list.map((u) => (u.id === user.id ? user : u)));
    setEditing(null);
    if (how === "deactivated") {
      const supervisor = byId.get(user.supervisor_id);
      setNotice(t("admin.deactivated", { name: user.name, supervisor: supervisor ? supervisor.name : "" }));
      loadUsers(); // their direct reports now report to the supervisor
    } else setNotice(t("admin.saved", { name: user.name }));
  };
  return html`
    <div class="admin" data-testid="admin">
      <${Refusal} error=${error} />
      <div class="admin-split">
        <div class="admin-side">
        <section class="card admin-tree" data-testid="tree">
          <h2>${t("admin.tree")}</h2>
          <ul class="admin-units">
            <li><button type="button" class=${chosen ? "choice" : "chosen"} data-testid="unit-all" onClick=${() => setChosen("")}>
              ${t("admin.allUnits")} <span class="muted">${t("admin.people", { count: sorted.filter((u) => u.active).length })}</span></button></li>
            ${tree.roots.map((r) => html`<${UnitNode} key=${r.id} unit=${r} children=${tree.children} chosen=${chosen}
              onChoose=${setChosen} counts=${counts} />`)}
          </ul>
        </section>
        <section class="card admin-new-unit">
          <${NewUnit} units=${tree.flat} chosen=${chosen} onCreated=${(unit) => { loadUnits(); setChosen(unit.id); }} />
        </section>
        </div>
        <div class="admin-main">
          <${Locks} />
          <section class="card" data-testid="users">
            <h2>${t("admin.users")} · ${chosen ? unitName(chosen) : t("admin.allUnits")} <small>${t("admin.count", { count: shown.length })}</small></h2>
            <label>${t("admin.search")}<input type="search" name="user-search" value=${q} onInput=${(e) => setQ(e.target.value)} /></label>
            <label class="check"><input type="checkbox" name="inactive" checked=${inactive}
              onChange=${(e) => setInactive(e.target.checked)} />${t("admin.showInactive")}</label>
            ${notice ? html`<p class="ok" data-testid="notice">${notice}</p>` : null}
            ${shown.length === 0
              ? html`<p class="muted">${t("admin.none")}</p>`
              : html`<ul class="admin-users" lang=${lang() === "en" ? "en" : "zh-CN"}>
                  ${shown.map((u) => html`<${UserRow} key=${u.id} user=${u} editing=${editing === u.id} byId=${byId}
                    unitName=${unitName} showUnit=${!chosen}
                    onEdit=${() => { setNotice(null); setEditing(u.id); }}
                    editor=${editing === u.id
                      ? html`<${UserEditor} user=${u} users=${sorted} units=${tree.flat} byId=${byId} onSaved=${saved}
                          onClose=${() => setEditing(null)} />`
                      : null} />`)}
                </ul>`}
          </section>
          <${NewUser} units=${tree.flat} users=${sorted} chosen=${chosen}
            onCreated=${(user) => { setUsers((list) => [...list, user]); setNotice(null); }} />
        </div>
      </div>
    </div>`;
}
