"""AWS console addresses for a deployment or a pipeline execution. Pure."""

from __future__ import annotations

from urllib.parse import quote

from bot.model import Deployment


def console_url(event: Deployment) -> str:
    """The console page that shows this deployment or pipeline execution, or "" if unknown."""
    region = event.region
    if not region or not region.replace("-", "").isalnum():
        return ""
    base = f"https://{region}.console.aws.amazon.com/codesuite"
    if event.deployment_id:
        deployment = quote(event.deployment_id, safe="")
        return f"{base}/codedeploy/deployments/{deployment}?region={region}"
    if event.pipeline:
        pipeline = quote(event.pipeline, safe="")
        if event.execution_id:
            execution = quote(event.execution_id, safe="")
            return (
                f"{base}/codepipeline/pipelines/{pipeline}/executions/{execution}/timeline"
                f"?region={region}"
            )
        return f"{base}/codepipeline/pipelines/{pipeline}/view?region={region}"
    return ""
