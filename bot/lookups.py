"""Read CodePipeline and CodeDeploy API responses into model pieces. Pure: no I/O, no clock.

Each function takes one decoded API response (or a list of `actionExecutionDetails`) as boto3
returns it, and tolerates missing keys: AWS omits what it does not know.
See ../shared/aws-facts.md §5-6 for the shapes and DESIGN.md "Finding the commit".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bot.coerce import as_map, as_str, mappings
from bot.commits import build_commit, parse_revision_summary
from bot.events import parse_status
from bot.model import Commit, ErrorInfo, FailedAction, FailureDetail, RollbackInfo, Status

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
class PipelineInfo:
    """What deploybot needs from a pipeline definition."""

    name: str
    deploy_targets: tuple[tuple[str, str], ...] = ()  # (ApplicationName, DeploymentGroupName)
    sources: tuple[SourceAction, ...] = ()

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


def parse_pipeline(response: Response) -> PipelineInfo:
    """Deploy targets and source actions of a `get_pipeline` response."""
    pipeline = as_map(response.get("pipeline"))
    targets: list[tuple[str, str]] = []
    sources: list[SourceAction] = []
    for stage in mappings(pipeline.get("stages")):
        for action in mappings(stage.get("actions")):
            kind = as_map(action.get("actionTypeId"))
            provider = as_str(kind.get("provider"))
            configuration = as_map(action.get("configuration"))
            if kind.get("category") == "Deploy" and provider in DEPLOY_PROVIDERS:
                targets.append(
                    (
                        as_str(configuration.get("ApplicationName")),
                        as_str(configuration.get("DeploymentGroupName")),
                    )
                )
            elif kind.get("category") == "Source":
                sources.append(
                    SourceAction(
                        name=as_str(action.get("name")),
                        provider=provider,
                        artifacts=tuple(
                            as_str(a.get("name")) for a in mappings(action.get("outputArtifacts"))
                        ),
                        repository=_repository(provider, configuration),
                        branch=as_str(
                            configuration.get("BranchName") or configuration.get("Branch")
                        ),
                    )
                )
    return PipelineInfo(
        name=as_str(pipeline.get("name")), deploy_targets=tuple(targets), sources=tuple(sources)
    )


def pipeline_names(response: Response) -> list[str]:
    """The pipeline names of one `list_pipelines` page."""
    return [as_str(p.get("name")) for p in mappings(response.get("pipelines")) if p.get("name")]


# --- action executions (list_action_executions) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class ActionRun:
    """The pipeline action execution that started a CodeDeploy deployment."""

    pipeline_execution_id: str
    stage: str
    action: str


def find_deployment_action(details: Iterable[Response], deployment_id: str) -> ActionRun | None:
    """The action execution whose external execution id is `deployment_id`, if listed."""
    for detail in details:
        result = as_map(as_map(detail.get("output")).get("executionResult"))
        if deployment_id and result.get("externalExecutionId") == deployment_id:
            return ActionRun(
                pipeline_execution_id=as_str(detail.get("pipelineExecutionId")),
                stage=as_str(detail.get("stageName")),
                action=as_str(detail.get("actionName")),
            )
    return None


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
        result = as_map(as_map(detail.get("output")).get("executionResult"))
        error = as_map(result.get("errorDetails"))
        info = as_str(error.get("message")) or as_str(result.get("externalExecutionSummary"))
        actions.append(
            FailedAction(
                action=as_str(detail.get("actionName")),
                info=info,
                url=as_str(result.get("externalExecutionUrl")),
            )
        )
    stage = as_str(failed[0].get("stageName")) if failed else ""
    return stage, tuple(actions)


# --- source revisions: three places AWS keeps them --------------------------------------------


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
    return SourceRevision(
        sha=revision.sha,
        action=revision.action or action.name,
        artifact=revision.artifact,
        provider=revision.provider or action.provider,
        summary=revision.summary,
        message=revision.message,
        branch=revision.branch or action.branch,
        repository=revision.repository or action.repository,
        url=revision.url,
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


def revisions_from_execution(
    response: Response, info: PipelineInfo | None = None
) -> list[SourceRevision]:
    """The `artifactRevisions` of a `get_pipeline_execution` response, named after their actions.

    Artifact revisions carry the output artifact's name, not the action's; the pipeline
    definition (when known) maps one to the other and adds provider, repository and branch.
    """
    execution = as_map(response.get("pipelineExecution"))
    revisions = []
    for item in mappings(execution.get("artifactRevisions")):
        sha = as_str(item.get("revisionId"))
        if not sha:
            continue
        name = as_str(item.get("name"))
        revision = SourceRevision(
            sha=sha,
            artifact=name,
            summary=as_str(item.get("revisionSummary")),
            url=as_str(item.get("revisionUrl")),
        )
        revisions.append(_with_definition(revision, info.source(name) if info else None))
    return revisions


def revisions_from_summary(summary: Response) -> list[SourceRevision]:
    """The `sourceRevisions` of a `list_pipeline_executions` entry, named after their actions."""
    return [
        SourceRevision(
            sha=as_str(item.get("revisionId")),
            action=as_str(item.get("actionName")),
            summary=as_str(item.get("revisionSummary")),
            url=as_str(item.get("revisionUrl")),
        )
        for item in mappings(summary.get("sourceRevisions"))
        if as_str(item.get("revisionId"))
    ]


def revisions_from_state(
    response: Response, info: PipelineInfo | None = None
) -> tuple[str, list[SourceRevision]]:
    """(the execution the Source stage last ran, its revisions) from `get_pipeline_state`.

    CodePipeline requires the first stage to hold the source actions.
    """
    stage = next(iter(mappings(response.get("stageStates"))), None)
    if stage is None:
        return "", []
    execution_id = as_str(as_map(stage.get("latestExecution")).get("pipelineExecutionId"))
    revisions = []
    for state in mappings(stage.get("actionStates")):
        latest = as_map(state.get("latestExecution"))
        sha = as_str(as_map(state.get("currentRevision")).get("revisionId"))
        if not sha:
            continue
        name = as_str(state.get("actionName"))
        revision = SourceRevision(
            sha=sha,
            action=name,
            summary=as_str(latest.get("summary")),
            url=as_str(state.get("revisionUrl")),
        )
        revisions.append(_with_definition(revision, info.source(name) if info else None))
    return execution_id, revisions


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
    parts = urlsplit(url)
    full_id = parse_qs(parts.query).get("FullRepositoryId")
    if full_id:
        return "", full_id[0]
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
    if commit.commit_url or urlsplit(revision.url).hostname == "api.github.com":
        return commit
    # No known web host: the console's page (CodeStar redirect, CodeCommit) is the next best link.
    return replace(commit, commit_url=revision.url)


# --- CodeDeploy (get_deployment, batch_get_deployment_targets) ---------------------------------


@dataclass(frozen=True, slots=True)
class DeploymentFacts:
    """What `get_deployment` adds to a sparse notification."""

    creator: str = ""
    error: ErrorInfo | None = None
    rollback: RollbackInfo | None = None


def parse_deployment(response: Response) -> DeploymentFacts:
    """Creator, error and rollback facts of a `get_deployment` response."""
    info = as_map(response.get("deploymentInfo"))
    error = as_map(info.get("errorInformation"))
    rollback = as_map(info.get("rollbackInfo"))
    code, message = as_str(error.get("code")), as_str(error.get("message"))
    triggering = as_str(rollback.get("rollbackTriggeringDeploymentId"))
    return DeploymentFacts(
        creator=as_str(info.get("creator")),
        error=ErrorInfo(code=code, message=message) if code or message else None,
        rollback=RollbackInfo(
            triggering_deployment_id=triggering, message=as_str(rollback.get("rollbackMessage"))
        )
        if triggering
        else None,
    )


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
        for event in mappings(target.get("lifecycleEvents")):
            if parse_status(event.get("status")) is not Status.FAILED:
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


def target_ids(response: Response) -> list[str]:
    """The target ids of a `list_deployment_targets` page."""
    return [t for t in response.get("targetIds", []) if isinstance(t, str)]
