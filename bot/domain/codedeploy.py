"""CodeDeploy deployments, however AWS reports them, read into the model. Pure.

One deployment reaches deploybot through four doors, each spelling the same facts its own
way: a trigger message (SNS; nested JSON as strings, `ErrorCode`), an EventBridge detail
(`state`, `application`), an API answer (`get_deployment`, `batch_get_deployments`: `code`,
`rollbackInfo`) and a deployment group's `lastAttemptedDeployment` (`endTime`). `_SPELLINGS`
says how; `parse_deployment` reads them all. See ../shared/aws-facts.md §1 and §5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.domain.coerce import (
    as_count,
    as_map,
    as_str,
    as_text,
    json_map,
    mappings,
    parse_status,
    parse_time,
)
from bot.domain.commits import build_commit
from bot.domain.model import (
    Commit,
    Deployment,
    ErrorInfo,
    FailureDetail,
    InstanceCounts,
    RollbackInfo,
    Scope,
    Source,
    Status,
)
from bot.domain.people import deployment_starter

Response = Mapping[str, Any]

_SPELLINGS: Mapping[str, tuple[str, ...]] = {
    "application": ("applicationName", "application"),
    "group": ("deploymentGroupName", "deploymentGroup"),
    "status": ("status", "state"),
    "created": ("createTime",),
    "completed": ("completeTime", "endTime"),
    "error": ("errorInformation",),
    "error_code": ("ErrorCode", "code"),
    "error_message": ("ErrorMessage", "message"),
    "rollback": ("rollbackInformation", "rollbackInfo"),
    "triggering": ("RollbackTriggeringDeploymentId", "rollbackTriggeringDeploymentId"),
    "rollback_message": ("RollbackMessage", "rollbackMessage"),
}


def _get(data: Mapping[str, Any], fact: str) -> Any:
    """The first spelling of `fact` that `data` has, or None."""
    return next((data[k] for k in _SPELLINGS[fact] if k in data), None)


def parse_deployment(
    data: Response,
    *,
    scope: Scope = Scope.DEPLOYMENT,
    region: str = "",
    account: str = "",
    event_id: str = "",
    occurred_at: datetime | None = None,
) -> Deployment:
    """One deployment from any of its shapes; what `data` itself says wins over the arguments.

    The arguments carry what an envelope knows (an EventBridge event's account and time, the
    region an API answer came from).
    """
    overview = json_map(data.get("deploymentOverview"))
    status = _get(data, "status")
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=scope,
        status=parse_status(status),
        raw_status=as_text(status),
        region=as_text(data.get("region")) or region,
        account=as_text(data.get("accountId")) or account,
        event_id=event_id,
        application=as_text(_get(data, "application")),
        deployment_group=as_text(_get(data, "group")),
        deployment_id=as_text(data.get("deploymentId")),
        started_at=parse_time(_get(data, "created")),
        finished_at=parse_time(_get(data, "completed")),
        occurred_at=occurred_at,
        instances=_instance_counts(overview) if overview else None,
        error=_error(json_map(_get(data, "error"))),
        rollback=_rollback(json_map(_get(data, "rollback"))),
        commit=_github_commit(as_map(data.get("revision"))),
        trigger=as_str(data.get("creator")),
        started_by=deployment_starter(as_str(data.get("creator"))),
        waiting=_waiting(data, parse_status(status)),
    )


def _waiting(data: Response, status: Status) -> str:
    """What a blue/green deployment waits for (ContinueDeployment's wait types), or "".

    Ready: traffic is not rerouted yet (CodeDeploy API reference, ContinueDeployment). Still in
    progress with `instanceTerminationWaitTimeStarted` (get_deployment): traffic is rerouted
    and the original instances wait out their termination time.
    """
    if status is Status.READY:
        return "READY_WAIT"
    style = as_map(data.get("deploymentStyle"))
    if (
        status is Status.IN_PROGRESS
        and data.get("instanceTerminationWaitTimeStarted") is True
        and style.get("deploymentType") == "BLUE_GREEN"
    ):
        return "TERMINATION_WAIT"
    return ""


def _instance_counts(overview: Mapping[str, Any]) -> InstanceCounts:
    return InstanceCounts(
        succeeded=as_count(overview.get("Succeeded")),
        failed=as_count(overview.get("Failed")),
        skipped=as_count(overview.get("Skipped")),
        in_progress=as_count(overview.get("InProgress")),
        pending=as_count(overview.get("Pending")),
        ready=as_count(overview.get("Ready")),
    )


def _error(info: Mapping[str, Any]) -> ErrorInfo | None:
    code, message = as_text(_get(info, "error_code")), as_text(_get(info, "error_message"))
    return ErrorInfo(code=code, message=message) if code or message else None


def _rollback(info: Mapping[str, Any]) -> RollbackInfo | None:
    """Set only on a deployment that rolls another back (it names the one it replaces).

    The deployment that was rolled back carries a message too ("rolled back by d-…"), but it is
    not itself a rollback.
    """
    triggering = as_text(_get(info, "triggering"))
    if not triggering:
        return None
    return RollbackInfo(
        triggering_deployment_id=triggering, message=as_text(_get(info, "rollback_message"))
    )


def _github_commit(revision: Mapping[str, Any]) -> Commit | None:
    github = as_map(revision.get("gitHubLocation"))
    sha = as_str(github.get("commitId"))
    if not sha:
        return None
    return build_commit(sha=sha, repository=as_str(github.get("repository")), provider="GitHub")


def parse_last_deployment(group: Response, region: str) -> Deployment | None:
    """The last attempted deployment of a `batch_get_deployment_groups` entry, if any."""
    last = as_map(group.get("lastAttemptedDeployment"))
    if not last.get("deploymentId"):
        return None
    names = {k: group.get(k) for k in ("applicationName", "deploymentGroupName")}
    return parse_deployment({**last, **names}, region=region)


# --- why a deployment failed (list_deployment_targets, batch_get_deployment_targets) ----------

_TARGET_KEYS = ("instanceTarget", "ecsTarget", "lambdaTarget", "cloudFormationTarget")


def first_failure(response: Response) -> FailureDetail | None:
    """The first failed lifecycle event of the first failed target, with its diagnostics."""
    targets = [
        target
        for item in mappings(response.get("deploymentTargets"))
        for key in _TARGET_KEYS
        if (target := as_map(item.get(key)))
    ]
    targets.sort(key=lambda t: parse_status(t.get("status")) is not Status.FAILED)
    for target in targets:
        event = _first_failed(mappings(target.get("lifecycleEvents")))
        if event is None:
            continue
        diagnostics = as_map(event.get("diagnostics"))
        return FailureDetail(
            lifecycle_event=as_str(event.get("lifecycleEventName")),
            target=as_str(target.get("targetId")),
            script=as_str(diagnostics.get("scriptName")),
            error_code=as_str(diagnostics.get("errorCode")),
            message=as_str(diagnostics.get("message")),
            log_tail=as_str(diagnostics.get("logTail")),
        )
    return None


def _first_failed(events: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((e for e in events if parse_status(e.get("status")) is Status.FAILED), None)


def target_ids(response: Response) -> list[str]:
    """The target ids of a `list_deployment_targets` page."""
    return [t for t in response.get("targetIds", []) if isinstance(t, str)]
