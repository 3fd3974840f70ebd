"""Parse any supported AWS payload into domain events. Pure: no I/O, no clock, no environment.

Accepted inputs (DESIGN.md "The shape", step 1): a Lambda SNS event (every record), an SNS HTTP
delivery body, a bare SNS message, a CodeDeploy trigger message (deployment or instance), a
CodePipeline notification-rule message, a raw EventBridge event for CodePipeline or CodeDeploy,
and a JSON array of any of these. Nested JSON may be a string or an object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.domain.codedeploy import parse_deployment
from bot.domain.codepipeline import describe_trigger
from bot.domain.coerce import (
    as_count,
    as_text,
    json_list,
    json_map,
    mappings,
    maybe_json,
    parse_status,
    parse_time,
    well_formed,
)
from bot.domain.commits import build_commit, parse_revision_summary
from bot.domain.model import (
    Approval,
    Commit,
    Deployment,
    ErrorInfo,
    FailedAction,
    LifecycleEvent,
    Scope,
    Source,
    StartedBy,
    Status,
)
from bot.domain.people import git_person, pipeline_starter
from bot.domain.urls import query_value

__all__ = [
    "ParseError",
    "is_aws_notification",
    "is_scheduled_event",
    "parse_payload",
    "parse_text",
]
SCHEDULERS = frozenset({"aws.events", "aws.scheduler"})

_SUMMARY_LIMIT = 2000


class ParseError(ValueError):
    """The payload is not JSON, or not any AWS notification deploybot understands."""


# --- entry points ----------------------------------------------------------------------------


def parse_text(text: str | bytes) -> list[Deployment]:
    """Parse a JSON document (a file's or a request's body)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not valid JSON: {exc}") from None
    return parse_payload(data)


def parse_payload(data: object) -> list[Deployment]:
    """Parse a decoded payload into domain events, in delivery order.

    Lone surrogates (JSON's "\\ud800") are replaced here, once, for everything downstream.
    """
    try:
        return _parse_any(well_formed(data))
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


def is_scheduled_event(event: object) -> bool:
    """True for the sweep's schedule: an EventBridge rule's or EventBridge Scheduler's
    "Scheduled Event" (checked before `is_aws_notification`, which would take it too)."""
    return (
        isinstance(event, Mapping)
        and event.get("detail-type") == "Scheduled Event"
        and event.get("source") in SCHEDULERS
    )


# --- envelopes -------------------------------------------------------------------------------


def _parse_lambda_sns(data: Mapping[str, Any]) -> list[Deployment]:
    records = data.get("Records")
    if not isinstance(records, list) or not records:
        raise ParseError("'Records' must be a non-empty list")
    events: list[Deployment] = []
    for index, record in enumerate(records):
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(sns, Mapping):
            which = f"Records[{index}]" if len(records) > 1 else "the record"
            raise ParseError(f"{which} has no 'Sns' object (not an SNS event)")
        events.extend(_parse_sns_body(sns, sns.get("MessageId")))
    return events


def _is_sns_body(data: Mapping[str, Any]) -> bool:
    return "Message" in data and "Type" in data and "TopicArn" in data


def _parse_sns_body(sns: Mapping[str, Any], message_id: object) -> list[Deployment]:
    kind = as_text(sns.get("Type"))
    event_id = as_text(message_id)
    subject = as_text(sns.get("Subject"))
    raw = sns.get("Message")
    if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        return [
            _generic(
                subject=f"SNS {kind}",
                summary=as_text(raw),
                event_id=event_id,
                region=_arn_region(as_text(sns.get("TopicArn"))),
            )
        ]
    decoded = maybe_json(raw)
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
    detail = json_map(data.get("detail"))
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
    return parse_deployment(data, event_id=event_id)


def _parse_codedeploy_instance_trigger(data: Mapping[str, Any], event_id: str) -> Deployment:
    lifecycle = tuple(
        LifecycleEvent(
            name=as_text(item.get("LifecycleEvent")),
            status=as_text(item.get("LifecycleEventStatus")),
            started_at=parse_time(item.get("StartTime")),
            finished_at=parse_time(item.get("EndTime")),
        )
        for item in mappings(json_list(data.get("lifecycleEvents")))
    )
    instance = as_text(data.get("instanceId"))
    starts = [e.started_at for e in lifecycle if e.started_at]
    ends = [e.finished_at for e in lifecycle if e.finished_at]
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.INSTANCE,
        status=parse_status(data.get("instanceStatus")),
        raw_status=as_text(data.get("instanceStatus")),
        region=as_text(data.get("region")),
        account=as_text(data.get("accountId")),
        event_id=event_id,
        application=as_text(data.get("applicationName")),
        deployment_group=as_text(data.get("deploymentGroupName")),
        deployment_id=as_text(data.get("deploymentId")),
        instance_id=instance.rsplit("/", 1)[-1],
        started_at=min(starts) if starts else None,
        finished_at=max(ends) if ends else parse_time(data.get("lastUpdatedAt")),
        lifecycle_events=lifecycle,
    )


def _parse_legacy_approval(data: Mapping[str, Any], event_id: str) -> Deployment:
    """The approval action's own SNS message (CodePipeline's "approvals JSON format").

    It alone carries the token. Its `approvalReviewLink` carries the token too, so it is not
    kept: the message links the pipeline's console page instead.
    """
    approval = json_map(data.get("approval"))
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.APPROVAL,
        status=Status.STARTED,
        raw_status="APPROVAL_NEEDED",
        region=as_text(data.get("region")),
        event_id=event_id,
        pipeline=as_text(approval.get("pipelineName")),
        stage=as_text(approval.get("stageName")),
        action=as_text(approval.get("actionName")),
        approval=Approval(
            token=as_text(approval.get("token")),
            expires_at=parse_time(approval.get("expires")),
            external_link=as_text(approval.get("externalEntityLink")),
            custom_data=as_text(approval.get("customData"))[:_SUMMARY_LIMIT],
        ),
    )


# --- EventBridge events and CodeStar notifications --------------------------------------------


def _parse_eventbridge_like(
    data: Mapping[str, Any], detail: Mapping[str, Any], event_id: str, subject: str
) -> Deployment:
    detail_type = as_text(data.get("detail-type") or data.get("detailType"))
    source = as_text(data.get("source"))
    event_id = event_id or as_text(data.get("id"))
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
        region=as_text(data.get("region")),
    )


def _pipeline_scope(detail_type: str, detail: Mapping[str, Any]) -> Scope | None:
    lowered = detail_type.lower()
    if "action execution" in lowered:
        category = as_text(json_map(detail.get("type")).get("category"))
        return Scope.APPROVAL if category.lower() == "approval" else Scope.ACTION
    if "stage execution" in lowered:
        return Scope.STAGE
    if "pipeline execution" in lowered:
        return Scope.PIPELINE
    return None


def _parse_pipeline_event(
    data: Mapping[str, Any], detail: Mapping[str, Any], scope: Scope, event_id: str
) -> Deployment:
    region = as_text(data.get("region")) or as_text(detail.get("region"))
    attributes = json_map(data.get("additionalAttributes"))
    result = json_map(detail.get("execution-result"))
    action_type = json_map(detail.get("type"))
    trigger = json_map(detail.get("execution-trigger"))
    provider = as_text(action_type.get("provider"))
    category = as_text(action_type.get("category"))
    external_id = as_text(result.get("external-execution-id"))
    summary = as_text(result.get("external-execution-summary"))
    failed_actions = tuple(
        FailedAction(
            action=as_text(item.get("action")), info=as_text(item.get("additionalInformation"))
        )
        for item in mappings(json_list(attributes.get("failedActions")))
    )
    error_code = as_text(result.get("error-code"))
    error = ErrorInfo(code=error_code) if error_code else None
    if error is None and scope is Scope.ACTION and attributes.get("additionalInformation"):
        error = ErrorInfo(message=as_text(attributes.get("additionalInformation")))
    is_deploy = provider.startswith("CodeDeploy") and external_id.startswith("d-")
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=scope,
        status=parse_status(detail.get("state")),
        raw_status=as_text(detail.get("state")),
        region=region,
        account=as_text(data.get("account")),
        event_id=event_id,
        pipeline=as_text(detail.get("pipeline")),
        execution_id=as_text(detail.get("execution-id")),
        pipeline_version=as_count(detail.get("version")),
        stage=as_text(detail.get("stage")),
        action=as_text(detail.get("action")),
        deployment_id=external_id if is_deploy else "",
        started_at=parse_time(detail.get("start-time")) if scope is Scope.PIPELINE else None,
        finished_at=None,
        occurred_at=parse_time(data.get("time")),
        error=error,
        commit=_commit_from_pipeline_event(trigger, attributes, result, category, region),
        trigger=_trigger_text(trigger),
        started_by=_starter(trigger),
        external_url=_external_url(result, scope),
        summary=summary[:_SUMMARY_LIMIT] if category != "Source" else "",
        failed_stage=as_text(attributes.get("failedStage")),
        failed_actions=failed_actions,
    )


def _trigger_text(trigger: Mapping[str, Any]) -> str:
    return describe_trigger(
        as_text(trigger.get("trigger-type")),
        as_text(trigger.get("trigger-detail")),
        as_text(trigger.get("author-display-name") or trigger.get("author-id")),
    )


def _external_url(result: Mapping[str, Any], scope: Scope) -> str:
    """The link of an action's execution; none for an approval, whose link may carry its token
    (the message links the pipeline's console page instead)."""
    return "" if scope is Scope.APPROVAL else as_text(result.get("external-execution-url"))


def _starter(trigger: Mapping[str, Any]) -> StartedBy | None:
    """Who started the execution: the trigger, and for a push the commit's author.

    A Git-triggered V2 execution's trigger names the commit and its author but may omit
    `trigger-type` (aws-facts.md §2): that is a push all the same.
    """
    kind = as_text(trigger.get("trigger-type"))
    return pipeline_starter(
        kind or ("WebhookV2" if trigger.get("commit-id") else ""),
        as_text(trigger.get("trigger-detail")),
        author=git_person(
            as_text(trigger.get("author-display-name")),
            as_text(trigger.get("author-id")),
            as_text(trigger.get("author-email")),
        ),
    )


def _commit_from_pipeline_event(
    trigger: Mapping[str, Any],
    attributes: Mapping[str, Any],
    result: Mapping[str, Any],
    category: str,
    region: str,
) -> Commit | None:
    """The commit a pipeline event names: its trigger, its source action, or sourceActions."""
    sha = as_text(trigger.get("commit-id"))
    if sha:
        return build_commit(
            sha=sha,
            message=as_text(trigger.get("commit-message")),
            author=as_text(trigger.get("author-display-name") or trigger.get("author-id")),
            branch=as_text(trigger.get("branch-name") or trigger.get("tag-name")),
            repository=as_text(trigger.get("full-repository-name")),
            provider=as_text(trigger.get("provider-type")),
            region=region,
        )
    if category == "Source" and result.get("external-execution-id"):
        summary = as_text(result.get("external-execution-summary"))
        provider, message = parse_revision_summary(summary)
        url = as_text(result.get("external-execution-url"))
        repository = query_value(url, "FullRepositoryId")
        return build_commit(
            sha=as_text(result.get("external-execution-id")),
            message=message,
            repository=repository,
            provider=provider,
            region=region,
        )
    for item in mappings(json_list(attributes.get("sourceActions"))):
        variables = json_map(item.get("sourceActionVariables"))
        sha = as_text(variables.get("CommitId"))
        if sha:
            provider = as_text(item.get("sourceActionProvider"))
            return build_commit(
                sha=sha,
                message=as_text(variables.get("CommitMessage")),
                branch=as_text(variables.get("BranchName")),
                repository=as_text(
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
    deployment = parse_deployment(
        detail,
        scope=Scope.INSTANCE if is_instance else Scope.DEPLOYMENT,
        region=as_text(data.get("region")),
        account=as_text(data.get("account")),
        event_id=event_id,
        occurred_at=parse_time(data.get("time")),
    )
    return replace(deployment, instance_id=as_text(detail.get("instanceId")) if is_instance else "")
