// The gateway's HTTP API (docs/API.md): nothing the browser does bypasses it.
//
// A session is an access token that lives minutes and a refresh token that buys the next pair
// once (docs/DOMAIN.md §1 "Passwords and sessions"). On a 401 the client refreshes — once, shared
// by every request that failed meanwhile — and sends the request again; a refused refresh
// (signed out elsewhere, a reset password, a copied token) ends the session in this browser.
const TOKEN = "bpc.token";
const REFRESH = "bpc.refresh";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details || {};
  }
}

export const token = {
  get: () => localStorage.getItem(TOKEN),
  refresh: () => localStorage.getItem(REFRESH),
  set: (value, refresh) => {
    localStorage.setItem(TOKEN, value);
    if (refresh) localStorage.setItem(REFRESH, refresh);
  },
  // a login's (or a password change's) answer: both tokens
  keep: (answer) => token.set(answer.token, answer.refresh_token),
  clear: () => {
    localStorage.removeItem(TOKEN);
    localStorage.removeItem(REFRESH);
  },
};

let refreshing = null; // the refresh under way, awaited by every request that got a 401

export async function refreshed() {
  const refresh = token.refresh();
  if (!refresh) return false;
  if (!refreshing) {
    refreshing = send("POST", "/auth/refresh", { refresh_token: refresh }, null)
      .then(({ response, data }) => {
        if (response.ok) token.keep(data);
        else if (token.refresh() === refresh) token.clear(); // (another tab may have refreshed)
        return response.ok || token.refresh() !== refresh;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

async function send(method, path, body, bearer) {
  const headers = { Accept: "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive: path === "/auth/logout",
    });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: "网络不可用 / The network is unavailable" } });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { response, data };
}

export async function api(method, path, body) {
  const bearer = token.get();
  let { response, data } = await send(method, path, body, bearer);
  if (response.status === 401 && bearer) {
    if (await refreshed()) ({ response, data } = await send(method, path, body, token.get()));
    if (response.status === 401) {
      token.clear();
      window.dispatchEvent(new Event("bpc:logged-out"));
    }
  }
  if (response.status === 403 && data && data.error && data.error.code === "password_change_required") {
    window.dispatchEvent(new Event("bpc:password-change-required"));
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Sign out in this browser: the session ends on the server; the page does not wait for it.
export function signOut() {
  const bearer = token.get();
  token.clear();
  if (bearer) send("POST", "/auth/logout", undefined, bearer).catch(() => {});
}
