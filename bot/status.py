"""What /deploy-status looks up: AWS reads at the edge, pure parsers from responses to the model.

The `parse_*` functions are pure (API response dicts in, model out) and take the region they
cannot know. `look_up` does the reads through the shared clients of `bot.aws`; any AWS failure
becomes an `AwsProblem` that names the IAM action to grant, never an exception for the caller.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot import aws
from bot.coerce import as_list, as_map, as_str, mappings
from bot.commits import build_commit, parse_revision_summary
from bot.config import Config
from bot.events import describe_trigger, parse_status, parse_time
from bot.lookups import commit_from_revision, pick_revision, revisions_from_summary
from bot.model import (
    AwsProblem,
    Commit,
    Deployment,
    ErrorInfo,
    Execution,
    GroupStatus,
    Lookup,
    NotFound,
    PipelineStatus,
    Scope,
    Source,
    StageState,
    Status,
    StatusReport,
)

HISTORY = 5  # executions or deployments in a detailed answer
SUGGESTIONS = 5


# --- pure parsers ----------------------------------------------------------------------------


def parse_execution(summary: Mapping[str, Any], region: str = "") -> Execution:
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


def parse_stages(state: Mapping[str, Any]) -> tuple[StageState, ...]:
    """Each stage of a `get_pipeline_state` response, naming its failed or running action."""
    stages = []
    for stage in mappings(state.get("stageStates")):
        latest = as_map(stage.get("latestExecution"))
        action, detail = "", ""
        for wanted in (Status.FAILED, Status.IN_PROGRESS):
            for item in mappings(stage.get("actionStates")):
                execution = as_map(item.get("latestExecution"))
                if parse_status(execution.get("status")) is wanted:
                    action = as_str(item.get("actionName"))
                    error = as_map(execution.get("errorDetails"))
                    detail = as_str(error.get("message")) or as_str(execution.get("summary"))
                    break
            if action:
                break
        stages.append(
            StageState(
                name=as_str(stage.get("stageName")),
                status=parse_status(latest.get("status")) if latest else None,
                execution_id=as_str(latest.get("pipelineExecutionId")),
                action=action,
                detail=parse_revision_summary(detail)[1],
            )
        )
    return tuple(stages)


def parse_targets(pipeline: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(application, deployment group) of every CodeDeploy action in a `get_pipeline` response."""
    targets = []
    for stage in mappings(as_map(pipeline.get("pipeline")).get("stages")):
        for action in mappings(stage.get("actions")):
            config = as_map(action.get("configuration"))
            application = as_str(config.get("ApplicationName"))
            group = as_str(config.get("DeploymentGroupName"))
            if application and group and (application, group) not in targets:
                targets.append((application, group))
    return tuple(targets)


def _github_commit(revision: Mapping[str, Any]) -> Commit | None:
    github = as_map(revision.get("gitHubLocation"))
    sha = as_str(github.get("commitId"))
    if not sha:
        return None
    return build_commit(sha=sha, repository=as_str(github.get("repository")), provider="GitHub")


def parse_last_deployment(group: Mapping[str, Any], region: str) -> Deployment | None:
    """The last attempted deployment of a `batch_get_deployment_groups` entry, if any."""
    last = as_map(group.get("lastAttemptedDeployment"))
    if not last.get("deploymentId"):
        return None
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=parse_status(last.get("status")),
        raw_status=as_str(last.get("status")),
        region=region,
        application=as_str(group.get("applicationName")),
        deployment_group=as_str(group.get("deploymentGroupName")),
        deployment_id=as_str(last.get("deploymentId")),
        started_at=parse_time(last.get("createTime")),
        finished_at=parse_time(last.get("endTime")),
    )


def parse_deployment(info: Mapping[str, Any], region: str) -> Deployment:
    """One `batch_get_deployments` entry."""
    error = as_map(info.get("errorInformation"))
    code, message = as_str(error.get("code")), as_str(error.get("message"))
    return Deployment(
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=parse_status(info.get("status")),
        raw_status=as_str(info.get("status")),
        region=region,
        application=as_str(info.get("applicationName")),
        deployment_group=as_str(info.get("deploymentGroupName")),
        deployment_id=as_str(info.get("deploymentId")),
        started_at=parse_time(info.get("createTime")),
        finished_at=parse_time(info.get("completeTime")),
        commit=_github_commit(as_map(info.get("revision"))),
        trigger=as_str(info.get("creator")),
        error=ErrorInfo(code, message) if code or message else None,
    )


def closest(name: str, candidates: Sequence[str]) -> tuple[str, ...]:
    """The names most like `name`: case-insensitive prefix or substring hits, then difflib's."""
    lowered = {c.lower(): c for c in candidates}
    key = name.lower()
    hits = [c for c in candidates if key and key in c.lower()]
    fuzzy = difflib.get_close_matches(key, list(lowered), n=SUGGESTIONS, cutoff=0.5)
    ordered = dict.fromkeys([*hits, *(lowered[f] for f in fuzzy)])
    return tuple(ordered)[:SUGGESTIONS]


# --- AWS reads -------------------------------------------------------------------------------


class Unavailable(Exception):
    """An AWS read failed; `problem` says how."""

    def __init__(self, problem: AwsProblem) -> None:
        super().__init__(f"{problem.kind}: {problem.action}")
        self.problem = problem


def _operation(method: str) -> str:
    return "".join(part.title() for part in method.split("_"))


def call(service: str, method: str, **params: Any) -> Mapping[str, Any]:
    """One AWS call through the shared client; a failure raises Unavailable saying how."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response: Mapping[str, Any] = getattr(aws.client(service), method)(**params)
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable(aws.describe_failure(exc, service, _operation(method))) from exc
    return response


def _pages(service: str, method: str, key: str, **params: Any) -> Iterator[Any]:
    token = ""
    while True:
        page = call(service, method, **params, **({"nextToken": token} if token else {}))
        yield from as_list(page.get(key))
        token = as_str(page.get("nextToken"))
        if not token:
            return


def region() -> str:
    """The region the shared clients call; Unavailable when none is configured."""
    from botocore.exceptions import BotoCoreError

    try:
        return str(aws.client("codepipeline").meta.region_name or "")
    except BotoCoreError as exc:  # no region configured, or a broken profile
        raise Unavailable(aws.describe_failure(exc, "codepipeline", "ListPipelines")) from exc


def _pipeline_names(config: Config) -> list[str]:
    if config.watched_pipelines:
        return list(config.watched_pipelines)
    return [
        as_str(as_map(p).get("name")) for p in _pages("codepipeline", "list_pipelines", "pipelines")
    ]


def _latest(name: str, count: int) -> tuple[Execution, ...]:
    response = call("codepipeline", "list_pipeline_executions", pipelineName=name, maxResults=count)
    return tuple(
        parse_execution(as_map(s)) for s in as_list(response.get("pipelineExecutionSummaries"))
    )


def _summary(name: str, region: str) -> PipelineStatus:
    targets = parse_targets(call("codepipeline", "get_pipeline", name=name))
    executions = _latest(name, 1)
    return PipelineStatus(
        name=name,
        region=region,
        latest=executions[0] if executions else None,
        targets=targets,
    )


def _detail(name: str, region: str) -> PipelineStatus:
    stages = parse_stages(call("codepipeline", "get_pipeline_state", name=name))
    executions = _latest(name, HISTORY)
    return PipelineStatus(
        name=name,
        region=region,
        latest=executions[0] if executions else None,
        stages=stages,
        executions=executions,
    )


def _groups_by_application() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for application in _pages("codedeploy", "list_applications", "applications"):
        groups[application] = list(
            _pages(
                "codedeploy",
                "list_deployment_groups",
                "deploymentGroups",
                applicationName=application,
            )
        )
    return groups


def _group_summaries(application: str, names: Sequence[str], region: str) -> list[GroupStatus]:
    # batch_get_deployment_groups takes at most 100 names; nobody shows more in one answer.
    response = call(
        "codedeploy",
        "batch_get_deployment_groups",
        applicationName=application,
        deploymentGroupNames=list(names[:100]),
    )
    summaries = []
    for info in mappings(response.get("deploymentGroupsInfo")):
        last = parse_last_deployment(info, region)
        summaries.append(
            GroupStatus(
                application=application,
                group=as_str(info.get("deploymentGroupName")),
                region=region,
                deployments=(last,) if last else (),
            )
        )
    return summaries


def _group_detail(application: str, group: str, region: str) -> GroupStatus:
    response = call(
        "codedeploy", "list_deployments", applicationName=application, deploymentGroupName=group
    )
    ids = [as_str(i) for i in as_list(response.get("deployments"))][:HISTORY]
    deployments: list[Deployment] = []
    if ids:
        infos = call("codedeploy", "batch_get_deployments", deploymentIds=ids)
        deployments = [
            parse_deployment(as_map(i), region) for i in as_list(infos.get("deploymentsInfo"))
        ]
        deployments.sort(
            key=lambda d: d.started_at.timestamp() if d.started_at else 0, reverse=True
        )
    return GroupStatus(application, group, region, tuple(deployments))


def _overview(config: Config, region: str) -> StatusReport:
    pipelines = tuple(_summary(name, region) for name in _pipeline_names(config))
    covered = {target for pipeline in pipelines for target in pipeline.targets}
    groups: list[GroupStatus] = []
    problems: list[AwsProblem] = []
    try:
        for application, names in _groups_by_application().items():
            unpiped = [n for n in names if (application, n) not in covered]
            if unpiped:
                groups.extend(_group_summaries(application, unpiped, region))
    except Unavailable as exc:
        # The pipelines are still worth showing; the answer says what is missing and why.
        problems.append(exc.problem)
    return StatusReport(pipelines=pipelines, groups=tuple(groups), problems=tuple(problems))


def _named(name: str, config: Config, region: str) -> Lookup:
    pipelines = _pipeline_names(config)
    exact = [p for p in pipelines if p == name] or [
        p for p in pipelines if p.lower() == name.lower()
    ]
    if len(exact) == 1:
        return _detail(exact[0], region)
    groups = _groups_by_application()
    key = name.lower()
    for application, names in groups.items():
        if application.lower() == key and names:
            return StatusReport(
                groups=tuple(_group_summaries(application, names, region)),
                title=f"Application {application}",
            )
    matches = [
        (application, group)
        for application, names in groups.items()
        for group in names
        if key in (group.lower(), f"{application}/{group}".lower())
    ]
    if len(matches) == 1:
        return _group_detail(*matches[0], region)
    candidates = [
        *pipelines,
        *groups,
        *(f"{application}/{group}" for application, names in groups.items() for group in names),
    ]
    return NotFound(name, closest(name, candidates))


def look_up(query: str, config: Config) -> Lookup:
    """The answer to `/deploy-status [query]`: an overview, one thing in detail, or why not."""
    try:
        where = region()
        name = query.strip()
        return _named(name, config, where) if name else _overview(config, where)
    except Unavailable as exc:
        return exc.problem
