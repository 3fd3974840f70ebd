"""Parse any supported AWS payload into domain events. Pure: no I/O, no clock, no environment.

Accepted inputs (DESIGN.md "The shape", step 1): a Lambda SNS event (every record), an SNS HTTP
delivery body, a bare SNS message, a CodeDeploy trigger message (deployment or instance), a
CodePipeline notification-rule message, a raw EventBridge event for CodePipeline or CodeDeploy,
and a JSON array of any of these. Nested JSON may be a string or an object.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.commits import build_commit, parse_revision_summary
from bot.model import (
    Commit,
    Deployment,
    ErrorInfo,
    FailedAction,
    InstanceCounts,
    LifecycleEvent,
    RollbackInfo,
    Scope,
    Source,
    Status,
)

__all__ = [
    "ParseError",
    "describe_trigger",
    "is_aws_notification",
    "parse_payload",
    "parse_status",
    "parse_text",
    "parse_time",
]

_SUMMARY_LIMIT = 2000


class ParseError(ValueError):
    """The payload is not JSON, or not any AWS notification deploybot understands."""


# --- small coercions -------------------------------------------------------------------------


def _str(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def _maybe_json(value: object) -> object:
    """Decode a nested JSON string (CodeDeploy double-encodes); leave anything else as it is."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _mapping(value: object) -> Mapping[str, Any]:
    decoded = _maybe_json(value)
    return decoded if isinstance(decoded, Mapping) else {}


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 1e15:
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()[:15])
    return 0


# --- time ------------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# "Thu Oct 13 15:50:45 UTC 2022": Java's Date.toString(), which CodeDeploy triggers use.
_JAVA_DATE = re.compile(
    r"^[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) (?:UTC|GMT) (\d{4})$"
)
_EPOCH = re.compile(r"^\d{9,11}(\.\d+)?$")


def parse_time(value: object) -> datetime | None:
    """Parse the time formats AWS uses here into an aware UTC datetime, or None.

    Month names are matched from a fixed table, so the machine's locale does not matter.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime):  # boto3 parses API timestamps itself
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if not isinstance(value, str):
            return None
        text = value.strip()
        if _EPOCH.match(text):
            return datetime.fromtimestamp(float(text), tz=UTC)
        match = _JAVA_DATE.match(text)
        if match:
            month = _MONTHS.get(match.group(1).lower())
            if month is None:
                return None
            day, hour, minute, second, year = (int(g) for g in match.groups()[1:])
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- status ----------------------------------------------------------------------------------

_STATUS_ALIASES = {
    "START": Status.STARTED,
    "STARTED": Status.STARTED,
    "CREATED": Status.CREATED,
    "PENDING": Status.CREATED,
    "QUEUED": Status.CREATED,
    "IN_PROGRESS": Status.IN_PROGRESS,
    "INPROGRESS": Status.IN_PROGRESS,
    "BAKING": Status.IN_PROGRESS,
    "READY": Status.READY,
    "RESUMED": Status.RESUMED,
    "STOPPING": Status.STOPPING,
    "SUCCESS": Status.SUCCEEDED,
    "SUCCEEDED": Status.SUCCEEDED,
    "FAILURE": Status.FAILED,
    "FAILED": Status.FAILED,
    "STOP": Status.STOPPED,
    "STOPPED": Status.STOPPED,
    "SUPERSEDED": Status.SUPERSEDED,
    "CANCELED": Status.CANCELED,
    "CANCELLED": Status.CANCELED,
    "ABANDONED": Status.ABANDONED,
    "SKIPPED": Status.SKIPPED,
}


def parse_status(raw: object) -> Status:
    """Map any spelling AWS uses ("FAILED", "Failed", "FAILURE", "InProgress") to a Status."""
    key = re.sub(r"[^A-Z]+", "_", _str(raw).upper()).strip("_")
    return _STATUS_ALIASES.get(key, Status.UNKNOWN)


# --- entry points ----------------------------------------------------------------------------


def parse_text(text: str | bytes) -> list[Deployment]:
    """Parse a JSON document (a file's or a request's body)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    return parse_payload(data)


def parse_payload(data: object) -> list[Deployment]:
    """Parse a decoded payload into domain events, in delivery order."""
    try:
        return _parse_any(data)
    except RecursionError:
        raise ParseError("payload is nested too deeply") from None


def _parse_any(data: object) -> list[Deployment]:
    if isinstance(data, list):
        if not data:
            raise ParseError("an empty JSON array holds no notification")
        return [event for item in data for event in _parse_any(item)]
    if not isinstance(data, Mapping):
        raise ParseError(f"expected a JSON object or array of objects, got {type(data).__name__}")
    if "Records" in data:
        return _parse_lambda_sns(data)
    if _is_sns_body(data):
        return _parse_sns_body(data, data.get("MessageId"))
    message = _parse_message(data, event_id="", subject="")
    if message is None:
        raise ParseError(
            "not a recognised AWS notification: expected an SNS event or message, an "
            "EventBridge event, a CodeDeploy trigger or a CodePipeline notification"
        )
    return [message]


def is_aws_notification(event: object) -> bool:
    """True for what the notification door handles; everything else belongs to Slack (Bolt)."""
    if not isinstance(event, Mapping):
        return False
    records = event.get("Records")
    if isinstance(records, list):
        return True
    return "detail-type" in event and "source" in event


# --- envelopes -------------------------------------------------------------------------------


def _parse_lambda_sns(data: Mapping[str, Any]) -> list[Deployment]:
    records = data.get("Records")
    if not isinstance(records, list) or not records:
        raise ParseError("'Records' must be a non-empty list")
    events: list[Deployment] = []
    for index, record in enumerate(records):
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(sns, Mapping):
            raise ParseError(f"Records[{index}] has no 'Sns' object (not an SNS event)")
        events.extend(_parse_sns_body(sns, sns.get("MessageId")))
    return events


def _is_sns_body(data: Mapping[str, Any]) -> bool:
    return "Message" in data and "Type" in data and "TopicArn" in data


def _parse_sns_body(sns: Mapping[str, Any], message_id: object) -> list[Deployment]:
    kind = _str(sns.get("Type"))
    event_id = _str(message_id)
    subject = _str(sns.get("Subject"))
    raw = sns.get("Message")
    if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return [
            _generic(
                subject=f"SNS {kind}",
                summary=_str(raw),
                event_id=event_id,
                region=_arn_region(_str(sns.get("TopicArn"))),
            )
        ]
    decoded = _maybe_json(raw)
    if isinstance(decoded, list):
        return [
            _parse_message(item, event_id=f"{event_id}#{i}", subject=subject)
            or _generic_from(item, subject, f"{event_id}#{i}")
            for i, item in enumerate(decoded)
        ]
    parsed = _parse_message(decoded, event_id=event_id, subject=subject)
    if parsed is None:
        parsed = _generic_from(decoded, subject, event_id)
    if parsed.occurred_at is None:
        parsed = replace(parsed, occurred_at=parse_time(sns.get("Timestamp")))
    return [parsed]


def _generic_from(value: object, subject: str, event_id: str) -> Deployment:
    if isinstance(value, str):
        summary = value
    else:
        summary = json.dumps(value, indent=1, ensure_ascii=False, default=str)
    return _generic(subject=subject, summary=summary, event_id=event_id)


def _generic(*, subject: str, summary: str, event_id: str, region: str = "") -> Deployment:
    return Deployment(
        source=Source.OTHER,
        scope=Scope.GENERIC,
        status=Status.UNKNOWN,
        subject=subject or "AWS notification",
        summary=summary[:_SUMMARY_LIMIT],
        event_id=event_id,
        region=region,
    )


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def _parse_message(data: object, *, event_id: str, subject: str) -> Deployment | None:
    """Recognise one message; None when it is well-formed but unknown."""
    if not isinstance(data, Mapping):
        return None
    detail = _mapping(data.get("detail"))
    if "detail-type" in data or "detailType" in data:
        return _parse_eventbridge_like(data, detail, event_id, subject)
    if "deploymentId" in data and ("status" in data or "instanceStatus" in data):
        return _parse_codedeploy_trigger(data, event_id)
    if isinstance(data.get("approval"), Mapping):
        return _parse_legacy_approval(data, event_id)
    return None


# --- CodeDeploy triggers ---------------------------------------------------------------------


def _parse_codedeploy_trigger(data: Mapping[str, Any], event_id: str) -> Deployment:
    if "instanceStatus" in data or "instanceId" in data:
        return _parse_codedeploy_instance_trigger(data, event_id)
    overview = _mapping(data.get("deploymentOverview"))
    error = _mapping(data.get("errorInformation"))
    rollback = _mapping(data.get("rollbackInformation"))
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=parse_status(data.get("status")),
        raw_status=_str(data.get("status")),
        region=_str(data.get("region")),
        account=_str(data.get("accountId")),
        event_id=event_id,
        application=_str(data.get("applicationName")),
        deployment_group=_str(data.get("deploymentGroupName")),
        deployment_id=_str(data.get("deploymentId")),
        started_at=parse_time(data.get("createTime")),
        finished_at=parse_time(data.get("completeTime")),
        instances=_instance_counts(overview) if overview else None,
        error=_error(error.get("ErrorCode"), error.get("ErrorMessage")),
        rollback=_rollback(rollback),
    )


def _instance_counts(overview: Mapping[str, Any]) -> InstanceCounts:
    return InstanceCounts(
        succeeded=_int(overview.get("Succeeded")),
        failed=_int(overview.get("Failed")),
        skipped=_int(overview.get("Skipped")),
        in_progress=_int(overview.get("InProgress")),
        pending=_int(overview.get("Pending")),
        ready=_int(overview.get("Ready")),
    )


def _error(code: object, message: object) -> ErrorInfo | None:
    code_s, message_s = _str(code), _str(message)
    return ErrorInfo(code=code_s, message=message_s) if code_s or message_s else None


def _rollback(info: Mapping[str, Any]) -> RollbackInfo | None:
    triggering = _str(info.get("RollbackTriggeringDeploymentId"))
    message = _str(info.get("RollbackMessage"))
    if not triggering and not message:
        return None
    return RollbackInfo(triggering_deployment_id=triggering, message=message)


def _parse_codedeploy_instance_trigger(data: Mapping[str, Any], event_id: str) -> Deployment:
    raw_events = data.get("lifecycleEvents")
    raw_events = _maybe_json(raw_events)
    lifecycle = tuple(
        LifecycleEvent(
            name=_str(item.get("LifecycleEvent")),
            status=_str(item.get("LifecycleEventStatus")),
            started_at=parse_time(item.get("StartTime")),
            finished_at=parse_time(item.get("EndTime")),
        )
        for item in (raw_events if isinstance(raw_events, list) else [])
        if isinstance(item, Mapping)
    )
    instance = _str(data.get("instanceId"))
    starts = [e.started_at for e in lifecycle if e.started_at]
    ends = [e.finished_at for e in lifecycle if e.finished_at]
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.INSTANCE,
        status=parse_status(data.get("instanceStatus")),
        raw_status=_str(data.get("instanceStatus")),
        region=_str(data.get("region")),
        account=_str(data.get("accountId")),
        event_id=event_id,
        application=_str(data.get("applicationName")),
        deployment_group=_str(data.get("deploymentGroupName")),
        deployment_id=_str(data.get("deploymentId")),
        instance_id=instance.rsplit("/", 1)[-1],
        started_at=min(starts) if starts else None,
        finished_at=max(ends) if ends else parse_time(data.get("lastUpdatedAt")),
        lifecycle_events=lifecycle,
    )


def _parse_legacy_approval(data: Mapping[str, Any], event_id: str) -> Deployment:
    approval = _mapping(data.get("approval"))
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.APPROVAL,
        status=Status.STARTED,
        raw_status="APPROVAL_NEEDED",
        region=_str(data.get("region")),
        event_id=event_id,
        pipeline=_str(approval.get("pipelineName")),
        stage=_str(approval.get("stageName")),
        action=_str(approval.get("actionName")),
        action_category="Approval",
        external_url=_str(approval.get("approvalReviewLink")),
        summary=_str(approval.get("customData"))[:_SUMMARY_LIMIT],
    )


# --- EventBridge events and CodeStar notifications --------------------------------------------


def _parse_eventbridge_like(
    data: Mapping[str, Any], detail: Mapping[str, Any], event_id: str, subject: str
) -> Deployment:
    detail_type = _str(data.get("detail-type") or data.get("detailType"))
    source = _str(data.get("source"))
    event_id = event_id or _str(data.get("id"))
    if source == "aws.codepipeline" and detail:
        scope = _pipeline_scope(detail_type, detail)
        if scope is not None:
            return _parse_pipeline_event(data, detail, scope, event_id)
    if source == "aws.codedeploy" and detail and "deploymentId" in detail:
        return _parse_codedeploy_eventbridge(data, detail, detail_type, event_id)
    return _generic(
        subject=subject or detail_type or "AWS event",
        summary=json.dumps(detail or dict(data), indent=1, ensure_ascii=False, default=str),
        event_id=event_id,
        region=_str(data.get("region")),
    )


def _pipeline_scope(detail_type: str, detail: Mapping[str, Any]) -> Scope | None:
    lowered = detail_type.lower()
    if "action execution" in lowered:
        category = _str(_mapping(detail.get("type")).get("category"))
        return Scope.APPROVAL if category.lower() == "approval" else Scope.ACTION
    if "stage execution" in lowered:
        return Scope.STAGE
    if "pipeline execution" in lowered:
        return Scope.PIPELINE
    return None


def _parse_pipeline_event(
    data: Mapping[str, Any], detail: Mapping[str, Any], scope: Scope, event_id: str
) -> Deployment:
    region = _str(data.get("region")) or _str(detail.get("region"))
    attributes = _mapping(data.get("additionalAttributes"))
    result = _mapping(detail.get("execution-result"))
    action_type = _mapping(detail.get("type"))
    trigger = _mapping(detail.get("execution-trigger"))
    provider = _str(action_type.get("provider"))
    category = _str(action_type.get("category"))
    external_id = _str(result.get("external-execution-id"))
    summary = _str(result.get("external-execution-summary"))
    failed_actions = tuple(
        FailedAction(action=_str(item.get("action")), info=_str(item.get("additionalInformation")))
        for item in _list(attributes.get("failedActions"))
        if isinstance(item, Mapping)
    )
    error = _error(result.get("error-code"), "")
    if error is None and scope is Scope.ACTION and attributes.get("additionalInformation"):
        error = ErrorInfo(message=_str(attributes.get("additionalInformation")))
    is_deploy = provider.startswith("CodeDeploy") and external_id.startswith("d-")
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=scope,
        status=parse_status(detail.get("state")),
        raw_status=_str(detail.get("state")),
        region=region,
        account=_str(data.get("account")),
        event_id=event_id,
        pipeline=_str(detail.get("pipeline")),
        execution_id=_str(detail.get("execution-id")),
        stage=_str(detail.get("stage")),
        action=_str(detail.get("action")),
        action_provider=provider,
        action_category=category,
        deployment_id=external_id if is_deploy else "",
        started_at=parse_time(detail.get("start-time")) if scope is Scope.PIPELINE else None,
        finished_at=None,
        occurred_at=parse_time(data.get("time")),
        error=error,
        commit=_commit_from_pipeline_event(trigger, attributes, result, category, region),
        trigger=_trigger_text(trigger),
        external_url=_str(result.get("external-execution-url")),
        summary=summary[:_SUMMARY_LIMIT] if category != "Source" else "",
        failed_stage=_str(attributes.get("failedStage")),
        failed_actions=failed_actions,
    )


def _list(value: object) -> list[Any]:
    decoded = _maybe_json(value)
    return decoded if isinstance(decoded, list) else []


def _trigger_text(trigger: Mapping[str, Any]) -> str:
    return describe_trigger(
        _str(trigger.get("trigger-type")),
        _str(trigger.get("trigger-detail")),
        _str(trigger.get("author-display-name") or trigger.get("author-id")),
    )


def describe_trigger(kind: str, detail: str, who: str = "") -> str:
    """Who or what started a pipeline execution: "StartPipelineExecution by alice", "Webhook"."""
    if kind == "StartPipelineExecution" and detail:
        who = detail.rsplit("/", 1)[-1]  # an IAM ARN: show the user or role session
    if kind and who:
        return f"{kind} by {who}"
    return kind or (f"push by {who}" if who else "")


def _commit_from_pipeline_event(
    trigger: Mapping[str, Any],
    attributes: Mapping[str, Any],
    result: Mapping[str, Any],
    category: str,
    region: str,
) -> Commit | None:
    """The commit a pipeline event names: its trigger, its source action, or sourceActions."""
    sha = _str(trigger.get("commit-id"))
    if sha:
        return build_commit(
            sha=sha,
            message=_str(trigger.get("commit-message")),
            author=_str(trigger.get("author-display-name") or trigger.get("author-id")),
            branch=_str(trigger.get("branch-name") or trigger.get("tag-name")),
            repository=_str(trigger.get("full-repository-name")),
            provider=_str(trigger.get("provider-type")),
            region=region,
        )
    if category == "Source" and result.get("external-execution-id"):
        provider, message = parse_revision_summary(_str(result.get("external-execution-summary")))
        url = _str(result.get("external-execution-url"))
        query = parse_qs(urlsplit(url).query)
        repository = (query.get("FullRepositoryId") or [""])[0]
        return build_commit(
            sha=_str(result.get("external-execution-id")),
            message=message,
            repository=repository,
            provider=provider,
            region=region,
        )
    for item in _list(attributes.get("sourceActions")):
        variables = _mapping(item.get("sourceActionVariables")) if isinstance(item, Mapping) else {}
        sha = _str(variables.get("CommitId"))
        if sha:
            provider = _str(item.get("sourceActionProvider"))
            return build_commit(
                sha=sha,
                message=_str(variables.get("CommitMessage")),
                branch=_str(variables.get("BranchName")),
                repository=_str(
                    variables.get("FullRepositoryName") or variables.get("RepositoryName")
                ),
                provider=provider,
                region=region,
            )
    return None


def _parse_codedeploy_eventbridge(
    data: Mapping[str, Any], detail: Mapping[str, Any], detail_type: str, event_id: str
) -> Deployment:
    is_instance = "instance" in detail_type.lower()
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.INSTANCE if is_instance else Scope.DEPLOYMENT,
        status=parse_status(detail.get("state")),
        raw_status=_str(detail.get("state")),
        region=_str(detail.get("region")) or _str(data.get("region")),
        account=_str(data.get("account")),
        event_id=event_id,
        application=_str(detail.get("application")),
        deployment_group=_str(detail.get("deploymentGroup")),
        deployment_id=_str(detail.get("deploymentId")),
        instance_id=_str(detail.get("instanceId")) if is_instance else "",
        occurred_at=parse_time(data.get("time")),
    )
