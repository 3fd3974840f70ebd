"""Freezing a pipeline's deploy stage from Slack: which stage a button names, where. Pure.

A Freeze or Unfreeze button names the pipeline, the stage, and the account and region they
live in; nothing in it is trusted: at click time the config must still let deploybot freeze
that stage (bot/domain/config.py `rollback.pipelines`) and AWS must show the transition open or
closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.coerce import string_fields
from bot.domain.places import environment, read_value, value_fields

_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")  # CodePipeline's pipeline and stage names


@dataclass(frozen=True, slots=True)
class Stage:
    """A stage of a pipeline, in its account and region."""

    pipeline: str
    stage: str
    account: str = ""  # "" in a button posted before [[accounts]]: deploybot's own account
    region: str = ""

    @property
    def where(self) -> str:
        """The environment a claim holds: one freeze or unfreeze at a time per stage."""
        return environment("stage", f"{self.pipeline}/{self.stage}", self.account, self.region)

    def value(self) -> dict[str, str]:
        """A Freeze or Unfreeze button's value."""
        return {"p": self.pipeline, "t": self.stage, **value_fields(self.account, self.region)}


def read_stage(value: str) -> Stage | None:
    """The stage a button value names, or None when it is not one of ours."""
    data = string_fields(value) or {}
    pipeline, stage = data.get("p", ""), data.get("t", "")
    place = read_value(data)
    if place is None or not _NAME.fullmatch(pipeline) or not _NAME.fullmatch(stage):
        return None
    return Stage(pipeline, stage, *place)
