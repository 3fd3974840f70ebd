"""The README stays true to the repository: its two commands are the ones CI runs, and every
command-line option, template parameter and picture it should mention is there."""

from __future__ import annotations

import argparse
import re

from samtranslator.yaml_helper import yaml_parse

from bot.cli import _parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _first_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_two_commands_come_first_and_ci_runs_the_test_command_verbatim() -> None:
    render, test = _first_commands()
    assert render.startswith("python3 scripts/uv.py run deploybot render samples/")
    assert test == "python3 scripts/uv.py run pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci
    assert not [c for c in (render, test) if "--break-system-packages" in c]


def test_set_up_starts_near_the_top() -> None:
    # "Setup starts on screen 1-2": within the first 60 lines
    assert README.splitlines().index("## Set it up on AWS (about 15 minutes)") < 60


def test_every_command_line_option_is_documented() -> None:
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        assert f"deploybot {name}" in README
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, f"deploybot {name} {flag}"


def test_every_template_parameter_is_documented() -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    for parameter in template["Parameters"]:
        name = "Rollback*" if parameter.startswith("Rollback") else parameter
        assert f"`{name}" in README, parameter


def test_every_spoke_template_parameter_is_documented() -> None:
    template = yaml_parse((ROOT / "spoke.yaml").read_text(encoding="utf-8"))
    section = README[README.index("## Several accounts") : README.index("## IAM permissions")]
    for parameter in template["Parameters"]:
        if parameter.startswith(("Rollback", "Approval", "Freeze", "Traffic")):
            assert f"`{parameter}" in section or "`Rollback*`" in section, parameter
        else:
            assert f"`{parameter}" in section, parameter


def test_every_picture_is_shown_and_exists() -> None:
    shown = set(re.findall(r"\(docs/img/([^)]+\.png)\)", README))
    kept = {p.name for p in (ROOT / "docs" / "img").glob("*.png")}
    assert shown == kept


def test_every_table_is_one_table() -> None:
    # A blank line inside a table ends it: the rows after it render as a paragraph of pipes.
    lines = README.splitlines()
    for number, line in enumerate(lines[1:], start=1):
        starts_a_table = line.lstrip().startswith("|") and not lines[number - 1].strip()
        if starts_a_table:
            following = lines[number + 1].strip() if number + 1 < len(lines) else ""
            assert re.fullmatch(r"\|( *:?-+:? *\|)+", following), (
                f"README line {number + 1} starts a table without a header: {line[:60]}"
            )
