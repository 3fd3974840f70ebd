"""A blue/green deployment waiting for a person, and the buttons that steer it. Pure.

CodeDeploy (ECS, Lambda, EC2 blue/green) waits in two places (API reference, ContinueDeployment):
READY_WAIT, the replacement is ready and traffic not yet rerouted; TERMINATION_WAIT, traffic is
rerouted and the original instances wait out their termination time. The message then offers
*Reroute traffic now* or *Finish now*, and *Stop and roll back*; each is re-checked at click
time and sends one call.
"""

from __future__ import annotations

from blocks import ids
from blocks.actions import Block, Message, audit, button, confirm, mention, with_aws_words
from blocks.text import code_span, inline
from bot.domain.model import AwsProblem, Deployment
from bot.domain.traffic import button_value

REROUTE = "reroute"  # ContinueDeployment READY_WAIT
FINISH = "finish"  # ContinueDeployment TERMINATION_WAIT
STOP = "stop"  # StopDeployment autoRollbackEnabled=true
OPERATIONS = (REROUTE, FINISH, STOP)
ACTION_IDS = {REROUTE: ids.TRAFFIC_REROUTE, FINISH: ids.TRAFFIC_FINISH, STOP: ids.TRAFFIC_STOP}
NAME_MAX = 100


def _target(deployment: Deployment) -> str:
    names = " → ".join(n for n in (deployment.application, deployment.deployment_group) if n)
    return f"{code_span(deployment.deployment_id, 40)} {inline(names, 2 * NAME_MAX + 3)}".strip()


def waiting_text(deployment: Deployment) -> str:
    """Where a waiting blue/green deployment stands, as mrkdwn."""
    if deployment.waiting == "TERMINATION_WAIT":
        return (
            f":large_blue_circle: *Blue/green* {_target(deployment)}: traffic is on the "
            "replacement; the original instances wait to be terminated."
        )
    return (
        f":large_blue_circle: *Blue/green* {_target(deployment)}: the replacement is ready; "
        "traffic is not rerouted yet."
    )


def _value(deployment: Deployment, operation: str) -> dict[str, str]:
    return button_value(deployment, operation)


def traffic_buttons(deployment: Deployment) -> list[Block]:
    """The buttons a waiting deployment offers, each with a confirm saying what follows; none
    for a deployment id CodeDeploy would not give (its value would not be ours)."""
    if not button_value(deployment, STOP):
        return []
    where = f"{deployment.application}/{deployment.deployment_group}"
    stop = button(
        "Stop and roll back",
        ids.TRAFFIC_STOP,
        _value(deployment, STOP),
        style="danger",
        confirm_with=confirm(
            "Stop and roll back?",
            f"Stops {deployment.deployment_id} of {where}; CodeDeploy rolls back to the "
            "original environment.",
            "Stop and roll back",
        ),
    )
    if deployment.waiting == "TERMINATION_WAIT":
        go = button(
            "Finish now",
            ids.TRAFFIC_FINISH,
            _value(deployment, FINISH),
            confirm_with=confirm(
                "Finish the deployment now?",
                f"Terminates the original instances of {where} now instead of after the wait: "
                "no quick way back to them after this.",
                "Finish now",
            ),
        )
    else:
        go = button(
            "Reroute traffic now",
            ids.TRAFFIC_REROUTE,
            _value(deployment, REROUTE),
            style="primary",
            confirm_with=confirm(
                "Reroute traffic now?",
                f"Moves the traffic of {where} to the replacement environment of "
                f"{deployment.deployment_id} now, without waiting.",
                "Reroute",
                style="primary",
            ),
        )
    return [go, stop]


_DONE = {
    REROUTE: "rerouted traffic of {where} to the replacement",
    FINISH: "finished {where}: the original instances are terminated now",
    STOP: "stopped {where}; CodeDeploy rolls it back",
}


def steered_text(user: str, operation: str, deployment: Deployment) -> str:
    """The audit line: who steered which deployment, how."""
    did = _DONE[operation].format(where=_target(deployment))
    return f":twisted_rightwards_arrows: {mention(user)} {did}"


def build_steered(
    user: str, operation: str, deployment: Deployment, *extra: Block, found: bool = False
) -> Message:
    """The thread reply that records a click (with what may follow it: Finish, Stop)."""
    text = steered_text(user, operation, deployment)
    if found:
        text += "\n_AWS's answer was lost; deploybot read AWS and found it done._"
    return audit(text, *extra)


def build_steer_failed(
    user: str, operation: str, deployment: Deployment, problem: AwsProblem, *, maybe: bool = False
) -> Message:
    """The thread reply when AWS refused (or may not have done) what a click asked, in full."""
    what = {REROUTE: "reroute traffic of", FINISH: "finish", STOP: "stop"}[operation]
    verdict = "may not have worked" if maybe else "failed"
    head = (
        f":warning: {mention(user)}'s request to {what} {_target(deployment)} {verdict}: "
        f"{inline(problem.reason, 200)}"
    )
    return with_aws_words(head, problem)
