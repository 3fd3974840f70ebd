"""What /deploy-status reads from AWS: pipelines, their executions and stages, deployment groups.

The reads go through `bot.aws.call` on injected clients; bot/domain/codepipeline.py and
bot/domain/codedeploy.py turn the answers into the model. Any AWS failure becomes an
`AwsProblem` that names the IAM action to grant, never an exception for the caller.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import aws
from bot.aws import AwsError
from bot.domain.codedeploy import parse_deployment, parse_last_deployment
from bot.domain.codepipeline import parse_execution, parse_pipeline, parse_stages
from bot.domain.coerce import as_list, as_map, as_str, mappings
from bot.domain.config import Config
from bot.domain.model import (
    AwsProblem,
    Deployment,
    Execution,
    GroupStatus,
    Lookup,
    NotFound,
    PipelineStatus,
    StatusReport,
)

HISTORY = 5  # executions or deployments in a detailed answer
SUGGESTIONS = 5


def closest(name: str, candidates: Sequence[str]) -> tuple[str, ...]:
    """The names most like `name`: case-insensitive prefix or substring hits, then difflib's."""
    lowered = {c.lower(): c for c in candidates}
    key = name.lower()
    hits = [c for c in candidates if key and key in c.lower()]
    fuzzy = difflib.get_close_matches(key, list(lowered), n=SUGGESTIONS, cutoff=0.5)
    ordered = dict.fromkeys([*hits, *(lowered[f] for f in fuzzy)])
    return tuple(ordered)[:SUGGESTIONS]


# --- AWS reads -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reader:
    """The reads of one answer, through one account's clients."""

    codepipeline: Any
    codedeploy: Any
    config: Config
    region: str

    def pipeline_names(self) -> list[str]:
        if self.config.watched_pipelines:
            return list(self.config.watched_pipelines)
        pipelines = aws.pages(self.codepipeline, "list_pipelines", "pipelines")
        return [as_str(as_map(p).get("name")) for p in pipelines]

    def latest(self, name: str, count: int) -> tuple[Execution, ...]:
        response = aws.call(
            self.codepipeline, "list_pipeline_executions", pipelineName=name, maxResults=count
        )
        summaries = mappings(response.get("pipelineExecutionSummaries"))
        return tuple(parse_execution(s) for s in summaries)

    def summary(self, name: str) -> PipelineStatus:
        info = parse_pipeline(aws.call(self.codepipeline, "get_pipeline", name=name))
        executions = self.latest(name, 1)
        return PipelineStatus(
            name=name,
            region=self.region,
            latest=executions[0] if executions else None,
            targets=info.deploy_targets,
        )

    def detail(self, name: str) -> PipelineStatus:
        stages = parse_stages(aws.call(self.codepipeline, "get_pipeline_state", name=name))
        executions = self.latest(name, HISTORY)
        return PipelineStatus(
            name=name,
            region=self.region,
            latest=executions[0] if executions else None,
            stages=stages,
            executions=executions,
        )

    def groups_by_application(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for application in aws.pages(self.codedeploy, "list_applications", "applications"):
            groups[application] = list(
                aws.pages(
                    self.codedeploy,
                    "list_deployment_groups",
                    "deploymentGroups",
                    applicationName=application,
                )
            )
        return groups

    def group_summaries(self, application: str, names: Sequence[str]) -> list[GroupStatus]:
        # batch_get_deployment_groups takes at most 100 names; nobody shows more in one answer.
        response = aws.call(
            self.codedeploy,
            "batch_get_deployment_groups",
            applicationName=application,
            deploymentGroupNames=list(names[:100]),
        )
        summaries = []
        for info in mappings(response.get("deploymentGroupsInfo")):
            last = parse_last_deployment(info, self.region)
            summaries.append(
                GroupStatus(
                    application=application,
                    group=as_str(info.get("deploymentGroupName")),
                    region=self.region,
                    deployments=(last,) if last else (),
                )
            )
        return summaries

    def group_detail(self, application: str, group: str) -> GroupStatus:
        response = aws.call(
            self.codedeploy,
            "list_deployments",
            applicationName=application,
            deploymentGroupName=group,
        )
        ids = [as_str(i) for i in as_list(response.get("deployments"))][:HISTORY]
        deployments: list[Deployment] = []
        if ids:
            infos = aws.call(self.codedeploy, "batch_get_deployments", deploymentIds=ids)
            deployments = [
                parse_deployment(i, region=self.region)
                for i in mappings(infos.get("deploymentsInfo"))
            ]
            deployments.sort(
                key=lambda d: d.started_at.timestamp() if d.started_at else 0, reverse=True
            )
        return GroupStatus(application, group, self.region, tuple(deployments))

    def overview(self) -> StatusReport:
        pipelines = tuple(self.summary(name) for name in self.pipeline_names())
        covered = {target for pipeline in pipelines for target in pipeline.targets}
        groups: list[GroupStatus] = []
        problems: list[AwsProblem] = []
        try:
            for application, names in self.groups_by_application().items():
                unpiped = [n for n in names if (application, n) not in covered]
                if unpiped:
                    groups.extend(self.group_summaries(application, unpiped))
        except AwsError as exc:
            # The pipelines are still worth showing; the answer says what is missing and why.
            problems.append(exc.problem)
        return StatusReport(pipelines=pipelines, groups=tuple(groups), problems=tuple(problems))

    def named(self, name: str) -> Lookup:
        pipelines = self.pipeline_names()
        exact = [p for p in pipelines if p == name] or [
            p for p in pipelines if p.lower() == name.lower()
        ]
        if len(exact) == 1:
            return self.detail(exact[0])
        groups = self.groups_by_application()
        key = name.lower()
        for application, names in groups.items():
            if application.lower() == key and names:
                return StatusReport(
                    groups=tuple(self.group_summaries(application, names)),
                    title=f"Application {application}",
                )
        pairs = [(application, group) for application, names in groups.items() for group in names]
        matches = [p for p in pairs if key in (p[1].lower(), f"{p[0]}/{p[1]}".lower())]
        if len(matches) == 1:
            return self.group_detail(*matches[0])
        candidates = [*pipelines, *groups, *(f"{a}/{g}" for a, g in pairs)]
        return NotFound(name, closest(name, candidates))


def look_up(query: str, config: Config, codepipeline: Any, codedeploy: Any) -> Lookup:
    """The answer to `/deploy-status [query]`: an overview, one thing in detail, or why not."""
    reader = _Reader(codepipeline, codedeploy, config, aws.region_of(codepipeline))
    name = query.strip()
    try:
        return reader.named(name) if name else reader.overview()
    except AwsError as exc:
        return exc.problem
