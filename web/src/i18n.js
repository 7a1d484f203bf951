// Chinese first, English on request; the choice is kept in this browser.
const STRINGS = {
  zh: {
    app: "BPC 销售过程控制",
    switchLanguage: "English",
    login: "登录",
    loginName: "账号",
    password: "密码",
    loggingIn: "正在登录…",
    logout: "退出",
    account: "账号与安全",
    totpCode: "动态验证码",
    totpHint: "打开手机上的身份验证器，输入当前显示的 6 位数字。",
    workbench: "工作台",
    loading: "正在加载…",
    hello: "你好，{name}",
    level: "{level} 级",
    today: "今日",
    minutes: "分钟",
    score: "得分",
    entries: "条日志",
    rank: "团队排名",
    appointments: "预约",
    reminders: "提醒",
    alarmsMine: "我的报警",
    alarmsToHelp: "待我支援",
    alarmsUnsupported: "下属无人支援的报警",
    nearDeadline: "临近截止",
    worklist: "工作清单（100%→0%）",
    forecast: "我的预测",
    decisionsPending: "待我决定的没收商机",
    none: "暂无",
    unavailable: "暂不可用：{services}",
    sectionUnavailable: "该服务暂不可用",
    deadline: "截止",
    overdue: "已逾期",
    daysLeft: "剩 {days} 天",
    hoursLeft: "剩 {hours} 小时",
    responses: "{count} 条回应",
    weighted: "加权金额",
    count: "个商机",
    probability: "成交概率",
    retry: "重试",
    error: "出错了",
    dailyLog: "日志",
    dayTotal: "今日已记录 {minutes} 分钟",
    stepCustomer: "选择客户",
    searchCustomer: "输入客户名称搜索",
    noOpportunity: "不涉及商机",
    stepActivities: "勾选活动",
    atStage: "（{stage} 阶段可选）",
    stepMinutes: "填写时长与费用",
    minutesLabel: "时长（分钟）",
    expenseLabel: "费用（元，可不填）",
    noteLabel: "备注（可不填）",
    immutable: "日志保存后不可修改或删除，只能追加备注。",
    save: "保存日志",
    saved: "已保存。",
    opportunities: "商机",
    register: "登记商机",
    customer: "客户",
    oppTitle: "商机名称",
    amount: "金额（元）",
    qualification: "资格问题（勾选“是”）",
    registerButton: "登记",
    advance: "推进",
    decideBy: "决定期限",
    keep: "自己跟进",
    giveBack: "退回原负责人",
    reassign: "改派",
    reassignTo: "改派给…",
    alarms: "报警",
    alarmBoard: "全集团报警",
    raiseAlarm: "发起报警",
    category: "类别",
    description: "问题描述",
    analysis: "原因分析",
    raise: "报警",
    statusOpen: "待解决",
    statusResolved: "已解决",
    suggestions: "经验池里的相似问题",
    responsesTitle: "回应",
    markedEffective: "方法有效",
    effective: "方法有效",
    respond: "我来支援",
    send: "发送",
    performance: "业绩曲线",
    management: "管理分析",
    experience: "经验池",
    care: "客户关怀",
    admin: "系统管理",
  },
  en: {
    app: "BPC Sales Process Control",
    switchLanguage: "中文",
    login: "Log in",
    loginName: "Login",
    password: "Password",
    loggingIn: "Logging in…",
    logout: "Log out",
    account: "Account & security",
    totpCode: "Authenticator code",
    totpHint: "Open the authenticator app on your phone and type the 6 digits it shows now.",
    workbench: "Workbench",
    loading: "Loading…",
    hello: "Hello, {name}",
    level: "level {level}",
    today: "Today",
    minutes: "minutes",
    score: "score",
    entries: "entries",
    rank: "team rank",
    appointments: "Appointments",
    reminders: "Reminders",
    alarmsMine: "My alarms",
    alarmsToHelp: "Alarms to help with",
    alarmsUnsupported: "Subordinates' alarms without support",
    nearDeadline: "Near the deadline",
    worklist: "Work list (100%→0%)",
    forecast: "My forecast",
    decisionsPending: "Confiscated opportunities awaiting my decision",
    none: "None",
    unavailable: "Unavailable now: {services}",
    sectionUnavailable: "This service is unavailable now",
    deadline: "deadline",
    overdue: "overdue",
    daysLeft: "{days} days left",
    hoursLeft: "{hours} hours left",
    responses: "{count} responses",
    weighted: "weighted amount",
    count: "opportunities",
    probability: "probability",
    retry: "Retry",
    error: "Something went wrong",
    dailyLog: "Daily log",
    dayTotal: "Logged today: {minutes} minutes",
    stepCustomer: "Choose a customer",
    searchCustomer: "Type a customer's name",
    noOpportunity: "No opportunity",
    stepActivities: "Tick the activities",
    atStage: "(allowed at {stage})",
    stepMinutes: "Minutes and expense",
    minutesLabel: "Minutes",
    expenseLabel: "Expense (yuan, optional)",
    noteLabel: "Note (optional)",
    immutable: "Once saved, an entry cannot be changed or deleted; notes can be added.",
    save: "Save the entry",
    saved: "Saved.",
    opportunities: "Opportunities",
    register: "Register an opportunity",
    customer: "Customer",
    oppTitle: "Title",
    amount: "Amount (yuan)",
    qualification: "Qualification (tick for yes)",
    registerButton: "Register",
    advance: "Advance",
    decideBy: "decide within",
    keep: "Keep it",
    giveBack: "Return it",
    reassign: "Reassign",
    reassignTo: "Reassign to…",
    alarms: "Alarms",
    alarmBoard: "Alarms across the group",
    raiseAlarm: "Raise an alarm",
    category: "Category",
    description: "The problem",
    analysis: "Why it happens",
    raise: "Raise",
    statusOpen: "open",
    statusResolved: "resolved",
    suggestions: "Similar solved problems from the pool",
    responsesTitle: "Responses",
    markedEffective: "It worked",
    effective: "It worked (方法有效)",
    respond: "Help",
    send: "Send",
    performance: "Performance",
    management: "Management",
    experience: "Experience pool",
    care: "Customer care",
    admin: "Administration",
  },
};

const listeners = new Set();

// Each screen brings its own strings: register({zh: {...}, en: {...}}) at import.
export function register(strings) {
  for (const code of ["zh", "en"]) Object.assign(STRINGS[code], strings[code] || {});
}

export function lang() {
  return localStorage.getItem("bpc.lang") === "en" ? "en" : "zh";
}

export function setLang(value) {
  localStorage.setItem("bpc.lang", value);
  document.documentElement.lang = value === "en" ? "en" : "zh-CN";
  listeners.forEach((fn) => fn(value));
}

export function onLang(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function t(key, vars = {}) {
  const text = STRINGS[lang()][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// The API's texts are "中文 / English" (messages) or "中文 English" (names such as a stage's
// "回款 Payment collection"): the part of the current language. Text with no Latin part after
// Chinese is shown as it is.
export function bilingual(text) {
  if (typeof text !== "string") return "";
  const at = text.lastIndexOf(" / ");
  if (at >= 0) return lang() === "en" ? text.slice(at + 3) : text.slice(0, at);
  const named = /^([^A-Za-z]*[\u3400-\u9fff][^A-Za-z]*?)\s+([A-Za-z][\x20-\x7e]*)$/.exec(text);
  if (!named) return text;
  return lang() === "en" ? named[2] : named[1];
}
