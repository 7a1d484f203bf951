"""Pipelines and opportunities: registration, advance, the supervisor's decision, win, loss and its
approval, the deadline sweep, funnel, forecast, the worklist, targets, lost reasons (the
opportunity service's)."""

from __future__ import annotations

from common.errors import Locked
from gateway import schemas as s
from gateway.api.common import API, _page
from gateway.routing import Call, Route

OPPORTUNITY = "opportunity"
OPPORTUNITIES = "opportunities"


def list_pipelines(call: Call):
    return call.rpc.call(OPPORTUNITY, "list_pipelines")


def create_pipeline(call: Call):
    return call.rpc.call(OPPORTUNITY, "create_pipeline", **call.body)


def register_opportunity(call: Call):
    return call.rpc.call(OPPORTUNITY, "register", **call.body)


def get_opportunity(call: Call):
    return call.rpc.call(OPPORTUNITY, "get", opportunity_id=call.path["id"])


def list_opportunities(call: Call):
    return call.rpc.call(OPPORTUNITY, "list", **_page(call, "holder_id", "status", "stage"))


def delete_opportunity(call: Call):
    # the lock (docs/DOMAIN.md): nothing to ask the service, the answer is always the same
    raise Locked(details={"opportunity_id": call.path["id"]})


def advance_opportunity(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "advance", opportunity_id=call.path["id"], note=call.body.get("note")
    )


def decide_opportunity(call: Call):
    return call.rpc.call(
        OPPORTUNITY,
        "decide",
        opportunity_id=call.path["id"],
        action=call.body["action"],
        assignee_id=call.body.get("assignee_id"),
    )


def win_opportunity(call: Call):
    return call.rpc.call(OPPORTUNITY, "win", opportunity_id=call.path["id"])


def lose_opportunity(call: Call):
    return call.rpc.call(
        OPPORTUNITY,
        "lose",
        opportunity_id=call.path["id"],
        reason=call.body["reason"],
        analysis=call.body["analysis"],
    )


def approve_loss(call: Call):
    return call.rpc.call(OPPORTUNITY, "approve_loss", opportunity_id=call.path["id"])


def sweep(call: Call):
    return call.rpc.call(OPPORTUNITY, "sweep")


def funnel(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "funnel", scope=call.query["scope"], pipeline_id=call.query["pipeline_id"]
    )


def forecast(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "forecast", scope=call.query["scope"], months=call.query["months"]
    )


def worklist(call: Call):
    return call.rpc.call(OPPORTUNITY, "worklist", limit=call.query["limit"])


def list_targets(call: Call):
    return call.rpc.call(
        OPPORTUNITY, "targets", scope=call.query["scope"], month=call.query["month"]
    )


def set_target(call: Call):
    return call.rpc.call(
        OPPORTUNITY,
        "set_target",
        user_id=call.path["user_id"],
        month=call.path["month"],
        target=call.body["target"],
    )


def lost_reasons(call: Call):
    return call.rpc.call(OPPORTUNITY, "lost_reasons", scope=call.query["scope"])


ROUTES: list[Route] = [
    Route(
        "GET",
        f"{API}/pipelines",
        list_pipelines,
        "可用的销售流程（含默认流程）/ Pipelines visible to the caller, the default included",
        response=s.PipelinePage,
        tag=OPPORTUNITIES,
    ),
    Route(
        "POST",
        f"{API}/pipelines",
        create_pipeline,
        "新建销售流程（适用于本人下属范围）/ Create a pipeline for the caller's subtree",
        request=s.CreatePipelineRequest,
        response=s.Pipeline,
        min_level=6,
        status=201,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "POST",
        f"{API}/opportunities",
        register_opportunity,
        "登记商机（可行性评估、锁定）/ Register an opportunity (feasibility checked, locked)",
        request=s.RegisterOpportunityRequest,
        response=s.Opportunity,
        status=201,
        errors=(404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "GET",
        f"{API}/opportunities",
        list_opportunities,
        "可见的商机 / Visible opportunities",
        query=s.OpportunitiesQuery,
        response=s.OpportunityPage,
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/opportunities/{{id}}",
        get_opportunity,
        "商机及其历史 / An opportunity and its history",
        response=s.OpportunityDetail,
        errors=(404,),
        tag=OPPORTUNITIES,
    ),
    Route(
        "DELETE",
        f"{API}/opportunities/{{id}}",
        delete_opportunity,
        "商机已锁定，不能删除 / Always 405 locked: an opportunity cannot be deleted",
        errors=(404, 405),
        tag=OPPORTUNITIES,
        description="登记后的商机不能删除、放弃或转给同级 / "
        "A registered opportunity cannot be deleted, abandoned or handed to a peer",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/advance",
        advance_opportunity,
        "推进到下一阶段（仅持有人）/ Advance one stage (the holder only)",
        request=s.AdvanceRequest,
        response=s.Opportunity,
        errors=(403, 404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/decision",
        decide_opportunity,
        "主管处理没收的商机：保留、退回或改派 / Keep, return or reassign a confiscated one",
        request=s.DecisionRequest,
        response=s.Opportunity,
        errors=(403, 404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/win",
        win_opportunity,
        "成交 / Win the opportunity",
        response=s.Opportunity,
        errors=(403, 404, 409),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/lose",
        lose_opportunity,
        "申请丢单（原因与剖析，待主管批准）/ Request a loss: reason, analysis, then approval",
        request=s.LoseRequest,
        response=s.Opportunity,
        status=202,
        errors=(403, 404, 409, 422),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/opportunities/{{id}}/lose/approve",
        approve_loss,
        "批准丢单（上级主管）/ Approve a loss (a supervisor in the chain)",
        response=s.Opportunity,
        errors=(403, 404, 409),
        tag=OPPORTUNITIES,
        changes="opportunity",
    ),
    Route(
        "POST",
        f"{API}/admin/sweep",
        sweep,
        "立即执行超时巡检 / Run the deadline sweep now",
        response=s.SweepResult,
        min_level=9,
        errors=(403,),
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/funnel",
        funnel,
        "销售漏斗 / Sales funnel",
        query=s.FunnelQuery,
        response=s.Funnel,
        errors=(403, 404, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/forecast",
        forecast,
        "销售预测（按月加权）/ Weighted forecast by month, with a backtest",
        query=s.ForecastQuery,
        response=s.Forecast,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/worklist",
        worklist,
        "倒着跟踪：从 100% 到 0% / The caller's open opportunities, 100% → 0%",
        query=s.WorklistQuery,
        response=s.Worklist,
        tag=OPPORTUNITIES,
    ),
    Route(
        "GET",
        f"{API}/targets",
        list_targets,
        "销售目标与达成 / Monthly targets and attainment",
        query=s.TargetsQuery,
        response=s.Targets,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
    Route(
        "PUT",
        f"{API}/targets/{{user_id}}/{{month}}",
        set_target,
        "设定下属的月度目标（上级主管）/ Set a subordinate's monthly target (a supervisor)",
        request=s.SetTargetRequest,
        response=s.Target,
        errors=(403, 404, 422),
        tag=OPPORTUNITIES,
        description="month 为 YYYY-MM，其他形式为 404 / month is YYYY-MM; anything else is 404",
    ),
    Route(
        "GET",
        f"{API}/lost-reasons",
        lost_reasons,
        "丢单原因统计（按类别）/ Lost opportunities by reason category",
        query=s.ScopeQuery,
        response=s.LostReasons,
        errors=(403, 422),
        tag=OPPORTUNITIES,
    ),
]
