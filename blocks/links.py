"""AWS console addresses for deployments, pipelines and deployment groups, and what a link's
host is called on a button. Pure.

Each part of an address is checked first (bot/domain/urls.py): a region that is not a plain
commercial-partition region, or a name or id outside its alphabet, gives no link rather than
one that opens somewhere else.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.domain.model import Deployment
from bot.domain.urls import (
    is_codedeploy_name,
    is_deployment_id,
    is_execution_id,
    is_pipeline_name,
    is_region,
    url_host,
)

_CONSOLE_HOST = "console.aws.amazon.com"


def _base(region: str) -> str:
    """The CodeSuite console root for `region`, or "" when `region` is not a known shape."""
    if not is_region(region):
        return ""
    return f"https://{region}.{_CONSOLE_HOST}/codesuite"


def deployment_url(region: str, deployment_id: str) -> str:
    """The console page of one CodeDeploy deployment."""
    base = _base(region)
    if not base or not is_deployment_id(deployment_id):
        return ""
    return f"{base}/codedeploy/deployments/{quote(deployment_id, safe='')}?region={region}"


def pipeline_url(region: str, pipeline: str, execution_id: str = "") -> str:
    """The console page of a pipeline, or of one of its executions."""
    base = _base(region)
    if not base or not is_pipeline_name(pipeline):
        return ""
    page = f"{base}/codepipeline/pipelines/{quote(pipeline, safe='')}"
    if is_execution_id(execution_id):
        return f"{page}/executions/{execution_id}/timeline?region={region}"
    return f"{page}/view?region={region}"


def group_url(region: str, application: str, group: str) -> str:
    """The console page of a CodeDeploy deployment group."""
    base = _base(region)
    if not base or not is_codedeploy_name(application) or not is_codedeploy_name(group):
        return ""
    app, dg = quote(application, safe=""), quote(group, safe="")
    return f"{base}/codedeploy/applications/{app}/deployment-groups/{dg}?region={region}"


def console_url(event: Deployment) -> str:
    """The console page that shows this deployment or pipeline execution, or "" if unknown."""
    if event.deployment_id:
        return deployment_url(event.region, event.deployment_id)
    return pipeline_url(event.region, event.pipeline, event.execution_id)


def host_label(url: str) -> str:
    """Where a link taken whole from a notification opens: "AWS console" or its host."""
    host = url_host(url)
    if host == _CONSOLE_HOST or host.endswith("." + _CONSOLE_HOST):
        return "AWS console"
    return host
