"""The workbench (工作台, docs/DOMAIN.md §8): what a salesperson sees on opening BPC, gathered
from the services at once (one RPC each, concurrently, all within ``BPC_WORKBENCH_TIMEOUT``).

A section whose service does not answer in time (or is down) is ``null`` and the service is
named in ``unavailable``; the rest still answers. Sections:

- ``appointments``: the caller's appointments agreed in work logs, today and the next two days;
- ``reminders``: birthdays (solar and lunar), anniversaries, important dates and due revisits of
  the customers the caller sees, in the same three days;
- ``alarms``: ``mine`` (open, raised by the caller), ``to_help`` (open alarms of subordinates or
  escalated to the caller) and, for a supervisor (level ≥ 4), ``unsupported`` (subordinates'
  open alarms nobody has answered);
- ``near_deadline``, ``worklist`` (100%→0%), ``forecast`` (own, weighted) and, for a
  supervisor, ``decisions_pending`` (confiscated opportunities awaiting the decision);
- ``today``: minutes, score, entries and rank by diligence in the team.
"""

from __future__ import annotations

import logging

from common import clock, config
from common.errors import ServiceUnavailable
from gateway import schemas as s
from gateway.api.common import API
from gateway.routing import Call, Route

log = logging.getLogger(__name__)

DAYS = 3
LIMIT = 20
SUPERVISOR = 4


def workbench(call: Call) -> dict:
    supervisor = call.actor.level >= SUPERVISOR
    calls = {
        "care": ("customer", "reminders", {"from": clock.today().isoformat(), "days": DAYS}),
        "alarms": ("alerts", "workbench", {"limit": LIMIT}),
        "opportunities": ("opportunity", "workbench", {"days": DAYS}),
        "today": ("scoring", "today", {}),
    }
    answers = call.rpc.call_each(calls, config.workbench_timeout())
    unavailable: set[str] = set()

    def answer(key: str):
        value = answers.get(key)
        if isinstance(value, Exception):
            if not isinstance(value, ServiceUnavailable):
                log.warning("workbench section %s failed: %r", key, value)
            unavailable.add(calls[key][0])
            return None
        return value

    care = answer("care")
    items = care["items"] if care else None
    opportunities = answer("opportunities")
    alarms = answer("alarms")
    if alarms is not None and not supervisor:
        alarms.pop("unsupported", None)

    def section(name: str):
        return opportunities[name] if opportunities else None

    appointments = reminders = None
    if items is not None:
        me = call.actor.id
        appointments = [i for i in items if i["kind"] == "appointment" and i.get("user_id") == me]
        reminders = [i for i in items if i["kind"] != "appointment"]
    return {
        "appointments": appointments,
        "reminders": reminders,
        "alarms": alarms,
        "near_deadline": section("near_deadline"),
        "worklist": section("worklist"),
        "today": answer("today"),
        "forecast": section("forecast"),
        "decisions_pending": section("decisions_pending") if supervisor else None,
        "unavailable": sorted(unavailable),
    }  # fmt: skip


ROUTES: list[Route] = [
    Route(
        "GET",
        f"{API}/workbench",
        workbench,
        "工作台：约见、提醒、报警、临期商机、工作清单、今日、预测、待决定 / The workbench",
        response=s.Workbench,
        tag="workbench",
    ),
]
