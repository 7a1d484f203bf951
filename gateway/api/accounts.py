"""Accounts: signing in and out, sessions, passwords and their reset, the second factor (TOTP),
login throttling and its locks, and the caller (``/me``). Every call is org's; the routes are
tagged ``org`` in the OpenAPI document."""

from __future__ import annotations

from common import clock, config
from gateway import schemas as s
from gateway.api.common import API
from gateway.routing import Call, Route

ORG = "org"


def login(call: Call):
    """(A flood of sign-ins waits for its turn in gateway/service.py, before a worker.)"""
    return call.rpc.call(
        "org", "login", login=call.body["login"], password=call.body["password"],
        totp_code=call.body.get("totp_code"), address=call.client, agent=call.agent,
    )  # fmt: skip


def refresh(call: Call):
    return call.rpc.call("org", "refresh", refresh_token=call.body["refresh_token"])


def _signed_out(call: Call, answer: dict, user_id: str) -> dict:
    """Answered once no gateway process may still accept a token of what just ended: each
    keeps org's verdict on a session at most ``BPC_ACTOR_CACHE_TTL`` seconds."""
    call.gateway.forget_actor(user_id)
    call.gateway.actors.wait_out()
    return answer


def logout(call: Call):
    answer = call.rpc.call("org", "logout", session_id=call.session_id)
    return _signed_out(call, answer, call.actor.id)


def logout_all(call: Call):
    answer = call.rpc.call("org", "logout_all", user_id=call.actor.id)
    return _signed_out(call, answer, call.actor.id)


def logout_user(call: Call):
    answer = call.rpc.call("org", "logout_all", user_id=call.path["id"])
    return _signed_out(call, answer, call.path["id"])


def list_sessions(call: Call):
    return call.rpc.call("org", "list_sessions", session_id=call.session_id)


def change_password(call: Call):
    answer = call.rpc.call(
        "org", "change_password", old_password=call.body["old_password"],
        new_password=call.body["new_password"], address=call.client, agent=call.agent,
    )  # fmt: skip
    call.gateway.forget_actor(call.actor.id)
    return answer


def reset_password(call: Call):
    answer = call.rpc.call("org", "reset_password", user_id=call.path["id"])
    return _signed_out(call, answer, call.path["id"])


def totp_setup(call: Call):
    return call.rpc.call("org", "totp_setup")


def totp_enable(call: Call):
    answer = call.rpc.call("org", "totp_enable", code=call.body["code"])
    call.gateway.forget_actor(call.actor.id)
    return answer


def totp_disable(call: Call):
    answer = call.rpc.call(
        "org", "totp_disable", password=call.body["password"], code=call.body["code"]
    )
    call.gateway.forget_actor(call.actor.id)
    return answer


def login_locks(call: Call):
    return call.rpc.call("org", "login_locks")


def unlock_login(call: Call):
    return call.rpc.call("org", "unlock_login", user_id=call.path["id"])


def me(call: Call):
    """The caller, with the organisation's date and time zone (work dates are in it)."""
    hidden = ("path", "generation", "session_live", "_session_id")
    answer = {k: v for k, v in call.resolved.items() if k not in hidden}
    return answer | {"today": clock.today().isoformat(), "timezone": config.tz_name()}


ROUTES: list[Route] = [
    Route(
        "POST",
        f"{API}/auth/login",
        login,
        "登录 / Log in and receive a bearer token",
        request=s.LoginRequest,
        response=s.LoginResult,
        auth=False,
        errors=(401, 429),
        tag=ORG,
        description=(
            "连续失败后须等待，期间一律 429 并给出 Retry-After / After repeated failures the "
            "account and the client address must wait: 429 with Retry-After, even for the "
            "right password"
        ),
    ),
    Route(
        "GET",
        f"{API}/auth/locks",
        login_locks,
        "登录受限的账号与地址 / Accounts and addresses that must wait before a login",
        response=s.LoginLockPage,
        min_level=9,
        errors=(403,),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/users/{{id}}/unlock",
        unlock_login,
        "解除登录限制 / Let a user sign in again at once",
        response=s.UnlockResult,
        min_level=9,
        errors=(403, 404),
        tag=ORG,
    ),
    Route(
        "GET",
        f"{API}/me",
        me,
        "当前用户 / The caller",
        response=s.Me,
        tag=ORG,
        fresh_actor=True,
        before_password_change=True,
    ),  # fmt: skip
    Route(
        "POST",
        f"{API}/auth/refresh",
        refresh,
        "换取新令牌 / The next token pair of a session",
        request=s.RefreshRequest,
        response=s.LoginResult,
        auth=False,
        errors=(401,),
        tag=ORG,
        description=(
            "每个刷新令牌只能用一次；旧令牌再次出现即结束该会话 / Each refresh token is good "
            "once; an older one presented again ends its session (someone holds a copy)"
        ),
    ),
    Route(
        "POST",
        f"{API}/auth/logout",
        logout,
        "退出登录 / Sign out: the token's session ends",
        response=s.SignedOut,
        before_password_change=True,
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/logout-all",
        logout_all,
        "在所有设备退出 / Sign out everywhere: every token of the caller ends",
        response=s.SignedOut,
        before_password_change=True,
        tag=ORG,
        description=(
            "答复之时，任何网关实例都不再接受此前的令牌 / When it answers, no gateway instance "
            "accepts any earlier token of the caller"
        ),
    ),
    Route(
        "GET",
        f"{API}/auth/sessions",
        list_sessions,
        "我的登录设备 / The caller's signed-in sessions",
        response=s.SessionPage,
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/password",
        change_password,
        "修改密码 / Change one's password",
        request=s.ChangePasswordRequest,
        response=s.LoginResult,
        before_password_change=True,
        errors=(422, 429),
        tag=ORG,
        description=(
            "须提供原密码；新密码至少 10 位、含两类字符、不含登录名。其他设备全部退出，本设备"
            "得到新令牌 / The old password is required; the new one has at least 10 "
            "characters of two kinds and not the login. Every other session ends; this device "
            "gets a new token pair"
        ),
    ),
    Route(
        "POST",
        f"{API}/users/{{id}}/password-reset",
        reset_password,
        "重置用户密码 / Reset a user's password to a temporary one",
        response=s.PasswordReset,
        min_level=9,
        errors=(403, 404),
        tag=ORG,
        description=(
            "临时密码只显示这一次，72 小时内有效，登录后须先修改；该用户的会话与动态码一并清除 / "
            "The temporary password is shown this once and is good for 72 hours, only to be "
            "changed at the next sign-in; the user's sessions and second factor are removed"
        ),
    ),
    Route(
        "POST",
        f"{API}/users/{{id}}/logout-all",
        logout_user,
        "强制用户在所有设备退出 / Sign a user out everywhere (a lost device)",
        response=s.SignedOut,
        min_level=9,
        errors=(403, 404),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/totp/setup",
        totp_setup,
        "开始绑定动态码 / Start enrolling a TOTP authenticator (QR code)",
        response=s.TotpSetup,
        min_level=6,
        errors=(403,),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/totp/enable",
        totp_enable,
        "启用动态码 / Confirm the authenticator with one of its codes",
        request=s.TotpCodeRequest,
        response=s.TotpState,
        min_level=6,
        errors=(403, 422),
        tag=ORG,
    ),
    Route(
        "POST",
        f"{API}/auth/totp/disable",
        totp_disable,
        "停用动态码 / Remove the second factor (password and a current code)",
        request=s.TotpDisableRequest,
        response=s.TotpState,
        errors=(422,),
        tag=ORG,
    ),
]
