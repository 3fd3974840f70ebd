"""CodePipeline API answers read into the model. Pure: no I/O, no clock.

Each function takes one decoded API response (or a list of `actionExecutionDetails`) as boto3
returns it, and tolerates missing keys: AWS omits what it does not know.
See ../shared/aws-facts.md §5-6 for the shapes and DESIGN.md "Finding the commit".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from bot.domain.coerce import as_count, as_map, as_str, mappings, parse_status, parse_time
from bot.domain.commits import build_commit, parse_revision_summary
from bot.domain.model import Commit, Execution, FailedAction, StageState, Status
from bot.domain.urls import query_value, split_url, url_host

DEPLOY_PROVIDERS = frozenset({"CodeDeploy", "CodeDeployToECS"})
_ARTIFACT_PROVIDERS = frozenset({"S3", "ECR"})  # sources that are not commits
_SHA = re.compile(r"^[0-9a-f]{40}$")
_GITHUB_PATH = re.compile(r"^/(?:repos/)?([^/]+/[^/]+)/")
_CODECOMMIT_PATH = re.compile(r"/codecommit/repositories/([^/]+)")

Response = Mapping[str, Any]


# --- pipeline definitions (get_pipeline) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceAction:
    """A source action of a pipeline definition, with what its configuration says."""

    name: str
    provider: str
    artifacts: tuple[str, ...] = ()
    repository: str = ""
    branch: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalAction:
    """A manual approval action of a pipeline definition, with its configuration."""

    stage: str
    action: str
    custom_data: str = ""  # CustomData
    external_link: str = ""  # ExternalEntityLink
    timeout_minutes: int = 0  # the action's timeoutInMinutes (0: the default, 7 days)


@dataclass(frozen=True, slots=True)
class PipelineInfo:
    """What deploybot needs from a pipeline definition."""

    name: str
    deploy_targets: tuple[tuple[str, str], ...] = ()  # (ApplicationName, DeploymentGroupName)
    sources: tuple[SourceAction, ...] = ()
    # The last stage holding a Deploy action: where what runs in production is deployed.
    deploy_stage: str = ""
    pipeline_type: str = ""  # "V1" or "V2" ("" when AWS did not say)
    execution_mode: str = ""  # "SUPERSEDED", "QUEUED" or "PARALLEL"
    version: int = 0  # the structure version it describes (events name theirs: a change shows)
    approvals: tuple[ApprovalAction, ...] = ()

    def approval(self, stage: str, action: str) -> ApprovalAction | None:
        """The manual approval action `action` of `stage`, if the definition has it."""
        return next((a for a in self.approvals if (a.stage, a.action) == (stage, action)), None)

    def deploys(self, application: str, deployment_group: str) -> bool:
        """True when a CodeDeploy or CodeDeployToECS action deploys this application/group."""
        return (application, deployment_group) in self.deploy_targets

    def source(self, name: str) -> SourceAction | None:
        """The source action called `name`, or producing the artifact called `name`."""
        for action in self.sources:
            if name in (action.name, *action.artifacts):
                return action
        return None


def _repository(provider: str, configuration: Mapping[str, Any]) -> str:
    if configuration.get("FullRepositoryId"):
        return as_str(configuration.get("FullRepositoryId"))
    if provider == "GitHub" and configuration.get("Owner") and configuration.get("Repo"):
        return f"{as_str(configuration.get('Owner'))}/{as_str(configuration.get('Repo'))}"
    return as_str(configuration.get("RepositoryName"))


def _deploy_target(action: Mapping[str, Any]) -> tuple[str, str] | None:
    """(application, deployment group) of a CodeDeploy or CodeDeployToECS Deploy action."""
    kind = as_map(action.get("actionTypeId"))
    if kind.get("category") != "Deploy" or kind.get("provider") not in DEPLOY_PROVIDERS:
        return None
    configuration = as_map(action.get("configuration"))
    application = as_str(configuration.get("ApplicationName"))
    group = as_str(configuration.get("DeploymentGroupName"))
    return (application, group) if application and group else None


def _source_action(action: Mapping[str, Any]) -> SourceAction | None:
    kind = as_map(action.get("actionTypeId"))
    if kind.get("category") != "Source":
        return None
    provider = as_str(kind.get("provider"))
    configuration = as_map(action.get("configuration"))
    return SourceAction(
        name=as_str(action.get("name")),
        provider=provider,
        artifacts=tuple(as_str(a.get("name")) for a in mappings(action.get("outputArtifacts"))),
        repository=_repository(provider, configuration),
        branch=as_str(configuration.get("BranchName") or configuration.get("Branch")),
    )


def _approval_actions(stages: list[Mapping[str, Any]]) -> tuple[ApprovalAction, ...]:
    found = []
    for stage in stages:
        for action in mappings(stage.get("actions")):
            if as_map(action.get("actionTypeId")).get("category") != "Approval":
                continue
            configuration = as_map(action.get("configuration"))
            timeout = action.get("timeoutInMinutes")
            found.append(
                ApprovalAction(
                    stage=as_str(stage.get("name")),
                    action=as_str(action.get("name")),
                    custom_data=as_str(configuration.get("CustomData")),
                    external_link=as_str(configuration.get("ExternalEntityLink")),
                    timeout_minutes=timeout if isinstance(timeout, int) and timeout > 0 else 0,
                )
            )
    return tuple(found)


def parse_pipeline(response: Response) -> PipelineInfo:
    """Deploy targets and source actions of a `get_pipeline` response."""
    pipeline = as_map(response.get("pipeline"))
    stages = list(mappings(pipeline.get("stages")))
    actions = [action for stage in stages for action in mappings(stage.get("actions"))]
    targets = (_deploy_target(action) for action in actions)
    sources = (_source_action(action) for action in actions)
    deploying = [
        as_str(stage.get("name"))
        for stage in stages
        if any(
            as_map(a.get("actionTypeId")).get("category") == "Deploy"
            for a in mappings(stage.get("actions"))
        )
    ]
    return PipelineInfo(
        name=as_str(pipeline.get("name")),
        deploy_targets=tuple(dict.fromkeys(t for t in targets if t is not None)),
        sources=tuple(s for s in sources if s is not None),
        deploy_stage=deploying[-1] if deploying else "",
        pipeline_type=as_str(pipeline.get("pipelineType")),
        execution_mode=as_str(pipeline.get("executionMode")),
        approvals=_approval_actions(stages),
        version=as_count(pipeline.get("version")),
    )


def pipeline_names(response: Response) -> list[str]:
    """The pipeline names of one `list_pipelines` page."""
    return [as_str(p.get("name")) for p in mappings(response.get("pipelines")) if p.get("name")]


# --- executions and stages (list_pipeline_executions, get_pipeline_state) ---------------------


def describe_trigger(kind: str, detail: str, who: str = "") -> str:
    """Who or what started a pipeline execution: "StartPipelineExecution by alice", "Webhook"."""
    if kind == "StartPipelineExecution" and detail:
        who = detail.rsplit("/", 1)[-1]  # an IAM ARN: show the user or role session
    if kind and who:
        return f"{kind} by {who}"
    return kind or (f"push by {who}" if who else "")


def parse_execution(summary: Response, region: str = "") -> Execution:
    """One `list_pipeline_executions` summary."""
    trigger = as_map(summary.get("trigger"))
    revision = pick_revision(revisions_from_summary(summary))
    return Execution(
        execution_id=as_str(summary.get("pipelineExecutionId")),
        status=parse_status(summary.get("status")),
        started_at=parse_time(summary.get("startTime")),
        updated_at=parse_time(summary.get("lastUpdateTime")),
        commit=commit_from_revision(revision, region) if revision else None,
        trigger=describe_trigger(
            as_str(trigger.get("triggerType")), as_str(trigger.get("triggerDetail"))
        ),
    )


def _action_worth_naming(stage: Response) -> tuple[str, str]:
    """(action, its error or summary) of a stage's failed action, else its running one."""
    for wanted in (Status.FAILED, Status.IN_PROGRESS):
        for item in mappings(stage.get("actionStates")):
            execution = as_map(item.get("latestExecution"))
            if parse_status(execution.get("status")) is wanted:
                error = as_map(execution.get("errorDetails"))
                detail = as_str(error.get("message")) or as_str(execution.get("summary"))
                return as_str(item.get("actionName")), detail
    return "", ""


def parse_stages(state: Response) -> tuple[StageState, ...]:
    """Each stage of a `get_pipeline_state` response, naming its failed or running action."""
    stages = []
    for stage in mappings(state.get("stageStates")):
        latest = as_map(stage.get("latestExecution"))
        action, detail = _action_worth_naming(stage)
        inbound = as_map(stage.get("inboundTransitionState"))
        stages.append(
            StageState(
                name=as_str(stage.get("stageName")),
                status=parse_status(latest.get("status")) if latest else None,
                execution_id=as_str(latest.get("pipelineExecutionId")),
                action=action,
                detail=parse_revision_summary(detail)[1],
                frozen=inbound.get("enabled") is False,
                frozen_by=as_str(inbound.get("lastChangedBy")),
                frozen_reason=as_str(inbound.get("disabledReason")),
            )
        )
    return tuple(stages)


# --- action executions (list_action_executions) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionRun:
    """The pipeline action execution that started a CodeDeploy deployment."""

    pipeline_execution_id: str
    stage: str
    action: str


def _result(detail: Response) -> Mapping[str, Any]:
    return as_map(as_map(detail.get("output")).get("executionResult"))


def find_deployment_action(details: Iterable[Response], deployment_id: str) -> ActionRun | None:
    """The action execution whose external execution id is `deployment_id`, if listed."""
    for detail in details:
        if deployment_id and _result(detail).get("externalExecutionId") == deployment_id:
            return ActionRun(
                pipeline_execution_id=as_str(detail.get("pipelineExecutionId")),
                stage=as_str(detail.get("stageName")),
                action=as_str(detail.get("actionName")),
            )
    return None


@dataclass(frozen=True, slots=True)
class DeployRun:
    """What a stage's Deploy actions did in one pipeline execution."""

    execution_id: str
    status: Status  # SUCCEEDED, FAILED (something may be half deployed), or IN_PROGRESS
    started_at: datetime | None = None


def _deploys_in(details: Iterable[Response], stage: str) -> list[Response]:
    return [
        d
        for d in details
        if d.get("stageName") == stage
        and as_map(as_map(d.get("input")).get("actionTypeId")).get("category") == "Deploy"
    ]


def _run_of(execution_id: str, deploys: list[Response]) -> DeployRun:
    statuses = {parse_status(d.get("status")) for d in deploys}
    if Status.FAILED in statuses:
        status = Status.FAILED
    elif statuses == {Status.SUCCEEDED}:
        status = Status.SUCCEEDED
    else:
        status = Status.IN_PROGRESS
    starts = [t for t in (parse_time(d.get("startTime")) for d in deploys) if t is not None]
    return DeployRun(execution_id, status, min(starts, default=None))


def deploy_runs(details: Iterable[Response], stage: str) -> list[DeployRun]:
    """Each execution's run of `stage`'s Deploy actions (list_action_executions), newest first.

    A failed Deploy action may have changed what runs (CodeDeploy without automatic rollback
    leaves the instances it reached on the new revision), so FAILED counts as deployed.
    """
    by_execution: dict[str, list[Response]] = {}
    for detail in _deploys_in(details, stage):
        by_execution.setdefault(as_str(detail.get("pipelineExecutionId")), []).append(detail)
    runs = [_run_of(execution_id, deploys) for execution_id, deploys in by_execution.items()]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(runs, key=lambda r: r.started_at or oldest, reverse=True)


def failed_actions(
    details: Iterable[Response], execution_id: str
) -> tuple[str, tuple[FailedAction, ...]]:
    """(failed stage, failed actions) of one pipeline execution, earliest failure first."""
    failed = [
        d
        for d in details
        if d.get("pipelineExecutionId") == execution_id
        and parse_status(d.get("status")) is Status.FAILED
    ]
    failed.reverse()  # the API lists the newest first
    actions = []
    for detail in failed:
        result = _result(detail)
        error = as_map(result.get("errorDetails"))
        actions.append(
            FailedAction(
                action=as_str(detail.get("actionName")),
                info=as_str(error.get("message")) or as_str(result.get("externalExecutionSummary")),
                url=as_str(result.get("externalExecutionUrl")),
            )
        )
    stage = as_str(failed[0].get("stageName")) if failed else ""
    return stage, tuple(actions)


# --- source revisions: four places AWS keeps them ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRevision:
    """One source action's revision in one pipeline execution, before it becomes a Commit."""

    sha: str
    action: str = ""
    artifact: str = ""
    provider: str = ""  # the source action's provider: CodeStarSourceConnection, CodeCommit, S3…
    summary: str = ""  # a JSON string (CodeStar connections) or the plain commit message
    message: str = ""  # the commit message when the action gave it apart from the summary
    branch: str = ""
    repository: str = ""
    url: str = ""

    @property
    def is_code(self) -> bool:
        """True for a Git commit (not an S3 object version or an image digest)."""
        if self.provider:
            return self.provider not in _ARTIFACT_PROVIDERS
        return bool(_SHA.match(self.sha)) or parse_revision_summary(self.summary)[0] != ""


def _with_definition(revision: SourceRevision, action: SourceAction | None) -> SourceRevision:
    if action is None:
        return revision
    return replace(
        revision,
        action=revision.action or action.name,
        provider=revision.provider or action.provider,
        branch=revision.branch or action.branch,
        repository=revision.repository or action.repository,
    )


def revisions_from_action_executions(
    details: Iterable[Response], execution_id: str
) -> list[SourceRevision]:
    """Source revisions of one execution from its Source action executions' outputs."""
    revisions = []
    for detail in details:
        kind = as_map(as_map(detail.get("input")).get("actionTypeId"))
        if detail.get("pipelineExecutionId") != execution_id or kind.get("category") != "Source":
            continue
        output = as_map(detail.get("output"))
        result = as_map(output.get("executionResult"))
        variables = as_map(output.get("outputVariables"))
        configuration = as_map(as_map(detail.get("input")).get("configuration"))
        provider = as_str(kind.get("provider"))
        sha = as_str(variables.get("CommitId")) or as_str(result.get("externalExecutionId"))
        if not sha:
            continue
        revisions.append(
            SourceRevision(
                sha=sha,
                action=as_str(detail.get("actionName")),
                artifact=next(
                    (as_str(a.get("name")) for a in mappings(output.get("outputArtifacts"))), ""
                ),
                provider=provider,
                summary=as_str(result.get("externalExecutionSummary")),
                message=as_str(variables.get("CommitMessage")),
                branch=as_str(variables.get("BranchName"))
                or as_str(configuration.get("BranchName") or configuration.get("Branch")),
                repository=as_str(variables.get("FullRepositoryName"))
                or _repository(provider, configuration),
                url=as_str(result.get("externalExecutionUrl")),
            )
        )
    return revisions


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where one answer keeps a revision's facts (each a path of keys)."""

    name: str  # the key naming the source action (or, for artifact revisions, the artifact)
    names_artifact: bool
    sha: tuple[str, ...]
    summary: tuple[str, ...]


_ARTIFACT_REVISIONS = _Layout("name", True, ("revisionId",), ("revisionSummary",))
_SOURCE_REVISIONS = _Layout("actionName", False, ("revisionId",), ("revisionSummary",))
_ACTION_STATES = _Layout(
    "actionName", False, ("currentRevision", "revisionId"), ("latestExecution", "summary")
)


def _at(item: Mapping[str, Any], path: tuple[str, ...]) -> str:
    value: object = item
    for key in path:
        value = as_map(value).get(key)
    return as_str(value)


def _revisions(
    items: Iterable[Mapping[str, Any]], layout: _Layout, info: PipelineInfo | None
) -> list[SourceRevision]:
    """The revisions `items` hold, named after their actions with the definition's help.

    Artifact revisions carry the output artifact's name, not the action's; the pipeline
    definition (when known) maps one to the other and adds provider, repository and branch.
    """
    revisions = []
    for item in items:
        sha = _at(item, layout.sha)
        if not sha:
            continue
        name = as_str(item.get(layout.name))
        revision = SourceRevision(
            sha=sha,
            action="" if layout.names_artifact else name,
            artifact=name if layout.names_artifact else "",
            summary=_at(item, layout.summary),
            url=as_str(item.get("revisionUrl")),
        )
        revisions.append(_with_definition(revision, info.source(name) if info else None))
    return revisions


def revisions_from_execution(
    response: Response, info: PipelineInfo | None = None
) -> list[SourceRevision]:
    """The `artifactRevisions` of a `get_pipeline_execution` response."""
    execution = as_map(response.get("pipelineExecution"))
    return _revisions(mappings(execution.get("artifactRevisions")), _ARTIFACT_REVISIONS, info)


def revisions_from_summary(summary: Response) -> list[SourceRevision]:
    """The `sourceRevisions` of a `list_pipeline_executions` entry."""
    return _revisions(mappings(summary.get("sourceRevisions")), _SOURCE_REVISIONS, None)


def revisions_from_state(
    response: Response, info: PipelineInfo | None = None
) -> tuple[str, list[SourceRevision]]:
    """(the execution the Source stage last ran, its revisions) from `get_pipeline_state`.

    CodePipeline requires the first stage to hold the source actions.
    """
    stage = next(iter(mappings(response.get("stageStates"))), None)
    if stage is None:
        return "", []
    execution_id = _at(stage, ("latestExecution", "pipelineExecutionId"))
    return execution_id, _revisions(mappings(stage.get("actionStates")), _ACTION_STATES, info)


def pick_revision(
    revisions: Iterable[SourceRevision], source_action: str = ""
) -> SourceRevision | None:
    """The configured source action's revision, else the first code (Git) source."""
    candidates = list(revisions)
    if source_action:
        for revision in candidates:
            if source_action in (revision.action, revision.artifact):
                return revision
    return next((r for r in candidates if r.is_code), None)


def _repository_from_url(url: str) -> tuple[str, str]:
    """(host provider, repository) from a revision URL, when its shape tells."""
    parts = split_url(url)
    if parts is None:
        return "", ""
    full_id = query_value(url, "FullRepositoryId")
    if full_id:
        return "", full_id
    if parts.hostname in ("github.com", "api.github.com"):
        match = _GITHUB_PATH.match(parts.path)
        return ("GitHub", unquote(match.group(1))) if match else ("GitHub", "")
    match = _CODECOMMIT_PATH.search(parts.path)
    if match and parts.hostname and parts.hostname.endswith("console.aws.amazon.com"):
        return "CodeCommit", unquote(match.group(1))
    return "", ""


def commit_from_revision(
    revision: SourceRevision, region: str, *, confirmed: bool = True
) -> Commit:
    """A Commit from a source revision: title, body, branch, repository and links."""
    summary_provider, summary_message = parse_revision_summary(revision.summary)
    url_provider, url_repository = _repository_from_url(revision.url)
    provider = summary_provider or url_provider or revision.provider
    commit = build_commit(
        sha=revision.sha,
        message=revision.message or summary_message,
        branch=revision.branch,
        repository=revision.repository or url_repository,
        provider=provider,
        region=region,
        confirmed=confirmed,
    )
    if commit.commit_url or url_host(revision.url) == "api.github.com":
        return commit
    # No known web host: the console's page (CodeStar redirect, CodeCommit) is the next best link.
    return replace(commit, commit_url=revision.url)
