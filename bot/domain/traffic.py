"""Steering a blue/green deployment from Slack: which deployments may be steered, is the click
still valid, what is sent, how a lost answer is read back. Pure.

The same people and channels as rollback may press ([rollback]); a deployment may be steered
when its deployment group is in `[[rollback.deployment_groups]]` or its pipeline in
`[[rollback.pipelines]]`. Nothing in the button is trusted: at click time GetDeployment says
where the deployment is, and only a deployment still waiting for that very step is steered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.codedeploy import parse_deployment
from bot.domain.coerce import as_map, string_fields
from bot.domain.config import RollbackSettings
from bot.domain.model import Deployment, Status
from bot.domain.places import environment, read_value, value_fields

REROUTE = "reroute"  # ContinueDeployment(deploymentWaitType=READY_WAIT)
FINISH = "finish"  # ContinueDeployment(deploymentWaitType=TERMINATION_WAIT)
STOP = "stop"  # StopDeployment(autoRollbackEnabled=True)
WAIT_TYPES = {REROUTE: "READY_WAIT", FINISH: "TERMINATION_WAIT"}
_DEPLOYMENT_ID = re.compile(r"d-[A-Z0-9]{1,40}")


@dataclass(frozen=True, slots=True)
class Steer:
    """What a traffic button asks: which deployment (in which account and region), which step."""

    deployment_id: str
    operation: str  # REROUTE, FINISH or STOP
    account: str = ""  # "" in a button posted before [[accounts]]: deploybot's own account
    region: str = ""

    @property
    def where(self) -> str:
        """The environment a claim holds: one click at a time per deployment."""
        return environment("deployment", self.deployment_id, self.account, self.region)


def button_value(deployment: Deployment, operation: str) -> dict[str, str]:
    """A traffic button's value: the deployment, its account and region, the step; {} when the
    deployment's id is not one CodeDeploy gives (then no button: nothing a notification says
    may make a value longer than Slack's 2,000 characters, or name what is not a deployment)."""
    if not _DEPLOYMENT_ID.fullmatch(deployment.deployment_id):
        return {}
    return {
        "d": deployment.deployment_id,
        "o": operation,
        **value_fields(deployment.account, deployment.region),
    }


def decode(value: str) -> Steer | None:
    """The step a button value asks for, or None when it is not one of ours."""
    data = string_fields(value) or {}
    deployment, operation = data.get("d", ""), data.get("o", "")
    place = read_value(data)
    if not _DEPLOYMENT_ID.fullmatch(deployment) or place is None:
        return None
    if operation not in (REROUTE, FINISH, STOP):
        return None
    return Steer(deployment, operation, *place)


def steerable(deployment: Deployment, settings: RollbackSettings, pipeline: str = "") -> bool:
    """True when the config lets someone steer this deployment (the message shows buttons)."""
    if not settings.anyone:
        return False
    return bool(
        settings.group(deployment.application, deployment.deployment_group)
        or settings.pipeline(pipeline or deployment.pipeline)
    )


def config_refusal(deployment: Deployment, settings: RollbackSettings, pipeline: str) -> str:
    """Why the config does not let anyone steer this deployment (read from AWS; `pipeline` is
    the pipeline whose execution ran it, when known), or ""."""
    if settings.group(deployment.application, deployment.deployment_group):
        return ""
    if pipeline and settings.pipeline(pipeline):
        return ""
    return (
        f"{deployment.application}/{deployment.deployment_group} is not in "
        "rollback.deployment_groups, nor deployed by a pipeline in rollback.pipelines"
    )


@dataclass(frozen=True, slots=True)
class Check:
    """The re-check of a click against GetDeployment: why not, or what to send."""

    deployment: Deployment
    refusal: str = ""
    method: str = ""
    params: Mapping[str, Any] | None = None


def check(steer: Steer, response: Mapping[str, Any]) -> Check:
    """Is the deployment still waiting for this very step (GetDeployment)? What to send."""
    info = as_map(response.get("deploymentInfo"))
    deployment = parse_deployment(info)
    if deployment.status.is_final:
        return Check(deployment, f"{steer.deployment_id} is already {deployment.raw_status}")
    if steer.operation == STOP:
        params = {"deploymentId": steer.deployment_id, "autoRollbackEnabled": True}
        return Check(deployment, method="stop_deployment", params=params)
    wanted = WAIT_TYPES[steer.operation]
    if deployment.waiting != wanted:
        now = deployment.waiting or deployment.raw_status or "unknown"
        return Check(
            deployment, f"{steer.deployment_id} is not waiting for that step now (it is {now})"
        )
    params = {"deploymentId": steer.deployment_id, "deploymentWaitType": wanted}
    return Check(deployment, method="continue_deployment", params=params)


def moved_on(steer: Steer, response: Mapping[str, Any]) -> bool:
    """After a lost answer: does GetDeployment show that the step was taken?"""
    deployment = parse_deployment(as_map(response.get("deploymentInfo")))
    if steer.operation == STOP:
        return deployment.status in (Status.STOPPING, Status.STOPPED)
    return deployment.waiting != WAIT_TYPES[steer.operation]
