"""The layout's rules: pure stays pure, imports run one way, no cycle, functions of one screen.

Layers, lowest first (README "Development"):
  0  bot/domain      pure: AWS payloads and answers -> model -> decisions; stdlib only
  1  blocks/         pure: model -> Block Kit
  2  bot/plan.py, bot/preview.py, bot/preview_html.py, bot/explain.py   pure: what to post
     where; a terminal and an HTML preview; failures worded for people
  3  the edges: bot/aws (AWS), bot/slack.py, bot/store.py, bot/config.py, bot/logs.py,
     bot/github.py (GitHub's compare API), bot/directory.py (Slack users by e-mail)
  4  handlers/       Slack listeners and the notification door
  5  the doors: bot/app.py, bot/lambda_function.py, bot/cli.py (+ cli_send.py), bot/check.py
A module imports only from its own layer or a lower one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "blocks")
MAX_FUNCTION_LINES = 50

_LAYERS: tuple[tuple[str, int], ...] = (
    ("bot.domain", 0),
    ("blocks", 1),
    ("bot.plan", 2),
    ("bot.preview", 2),
    ("bot.preview_html", 2),
    ("bot.explain", 2),
    ("bot.aws", 3),
    ("bot.slack", 3),
    ("bot.store", 3),
    ("bot.ledger", 3),
    ("bot.config", 3),
    ("bot.logs", 3),
    ("bot.github", 3),
    ("bot.directory", 3),
    ("handlers", 4),
    ("bot.app", 5),
    ("bot.lambda_function", 5),
    ("bot.cli", 5),
    ("bot.cli_send", 5),
    ("bot.check", 5),
    ("bot", 0),  # bot/__init__.py
)
PURE_LAYER = 2
# What a pure module must never load, even indirectly.
IMPURE = ("boto3", "botocore", "slack_sdk", "slack_bolt", "aws_lambda_powertools", "sqlite3")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


MODULES = _modules()


def _layer(module: str) -> int:
    for prefix, layer in _LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError(f"{module} is in no layer: add it to _LAYERS (and the README)")


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in `module`, at any depth (lazy ones too)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield (candidate if candidate in MODULES else node.module), node.lineno


def _internal_imports(module: str) -> Iterator[tuple[str, int]]:
    for name, line in _imports(module):
        if name.split(".")[0] in PACKAGES:
            yield name, line


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_only_its_own_layer_or_lower(module: str) -> None:
    # GIVEN a module and its layer; THEN nothing it imports (even lazily) sits above it
    layer = _layer(module)
    above = [
        f"line {line}: {name} (layer {_layer(name)})"
        for name, line in _internal_imports(module)
        if _layer(name) > layer
    ]
    assert above == [], f"{module} (layer {layer}) imports upward"


PURE = sorted(m for m in MODULES if _layer(m) <= PURE_LAYER and m != "bot")


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_loads_no_io_module(module: str) -> None:
    # GIVEN a fresh interpreter; WHEN only the pure module is imported
    script = f"import sys, {module}\nprint('\\n'.join(sorted(sys.modules)))\n"
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # THEN no AWS or Slack library, and no module of an I/O layer, came with it
    impure = [
        name
        for name in loaded
        if name.split(".")[0] in IMPURE
        or (name.split(".")[0] in PACKAGES and name in MODULES and _layer(name) > PURE_LAYER)
    ]
    assert impure == []


def test_the_internal_imports_have_no_cycle() -> None:
    # GIVEN every internal import (module-level and lazy)
    graph = {m: {name for name, _ in _internal_imports(m) if name in MODULES} for m in MODULES}
    # WHEN searched depth-first, THEN no module is reached again on its own path
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_function_is_longer_than_fifty_lines() -> None:
    # GIVEN every function and method of the three packages
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {length} lines")
    # THEN each reads on one screen
    assert long == []


def test_the_rules_can_fail() -> None:
    # GIVEN a domain module that imported an edge module, THEN the layer rule would catch it
    assert _layer("bot.aws.enrich") > _layer("bot.domain.rollback")
    assert _layer("handlers.rollback") > _layer("bot.plan")
    # AND every module belongs to a layer (an unknown one fails loudly)
    with pytest.raises(AssertionError, match="in no layer"):
        _layer("elsewhere.module")
