"""AWS console addresses for deployments, pipelines and deployment groups. Pure."""

from __future__ import annotations

from urllib.parse import quote

from bot.domain.model import Deployment


def _base(region: str) -> str:
    """The CodeSuite console root for `region`, or "" when the region is not a plain name."""
    if not region or not region.replace("-", "").isalnum():
        return ""
    return f"https://{region}.console.aws.amazon.com/codesuite"


def deployment_url(region: str, deployment_id: str) -> str:
    """The console page of one CodeDeploy deployment."""
    base = _base(region)
    if not base or not deployment_id:
        return ""
    return f"{base}/codedeploy/deployments/{quote(deployment_id, safe='')}?region={region}"


def pipeline_url(region: str, pipeline: str, execution_id: str = "") -> str:
    """The console page of a pipeline, or of one of its executions."""
    base = _base(region)
    if not base or not pipeline:
        return ""
    name = quote(pipeline, safe="")
    if execution_id:
        execution = quote(execution_id, safe="")
        return (
            f"{base}/codepipeline/pipelines/{name}/executions/{execution}/timeline?region={region}"
        )
    return f"{base}/codepipeline/pipelines/{name}/view?region={region}"


def group_url(region: str, application: str, group: str) -> str:
    """The console page of a CodeDeploy deployment group."""
    base = _base(region)
    if not base or not application or not group:
        return ""
    app, dg = quote(application, safe=""), quote(group, safe="")
    return f"{base}/codedeploy/applications/{app}/deployment-groups/{dg}?region={region}"


def console_url(event: Deployment) -> str:
    """The console page that shows this deployment or pipeline execution, or "" if unknown."""
    if event.deployment_id:
        return deployment_url(event.region, event.deployment_id)
    return pipeline_url(event.region, event.pipeline, event.execution_id)
