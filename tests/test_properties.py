"""Property tests: no input makes the parser raise anything but ParseError, and whatever it
accepts renders within Block Kit limits."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.deployment import build_message
from bot.domain.events import ParseError, parse_payload, parse_text
from tests.blockkit import violations
from tests.conftest import SAMPLE_FILES

SAMPLES = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLE_FILES]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=6)
    ),
    max_leaves=30,
)
KEYS = [
    "Records", "Sns", "Message", "Type", "TopicArn", "MessageId", "detail", "detail-type",
    "detailType", "source", "deploymentId", "status", "instanceStatus", "state", "pipeline",
    "execution-trigger", "additionalAttributes", "deploymentOverview", "errorInformation",
    "createTime", "completeTime", "lifecycleEvents", "approval", "execution-result", "type",
]  # fmt: skip
aws_like = st.recursive(
    scalars | st.sampled_from(["aws.codepipeline", "aws.codedeploy", "Notification", "{}"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=8)
    ),
    max_leaves=40,
)


def _check(data: Any) -> None:
    try:
        events = parse_payload(data)
    except ParseError:
        return
    for event in events:
        assert violations(build_message(event, mentions=("U1",))) == []


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises_other_errors(data: Any) -> None:
    _check(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(aws_like)
def test_aws_shaped_json_never_raises_other_errors(data: Any) -> None:
    _check(data)


JSON = object()  # a path step that decodes a JSON string (SNS Message, CodeDeploy overview)


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node of a payload, nested JSON strings included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*prefix, index)))
    elif (inner := _decoded(value)) is not None:
        found.extend(_paths(inner, (*prefix, JSON)))
    return found


def _replace(value: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    if not path:
        return replacement
    step, rest = path[0], path[1:]
    if step is JSON:
        return json.dumps(_replace(json.loads(value), rest, replacement))
    if isinstance(value, dict):
        return {**value, step: _replace(value[step], rest, replacement)}
    return [*value[:step], _replace(value[step], rest, replacement), *value[step + 1 :]]


NODES = [(sample, path) for sample in SAMPLES for path in _paths(sample)]


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NODES), json_values | st.sampled_from(["", "x", "{}", "[]", "-1", "1e999"]))
def test_mutated_real_payloads_never_raise_other_errors(
    node: tuple[Any, tuple[Any, ...]], replacement: Any
) -> None:
    # Replace one node of a real payload (inside nested JSON strings too) with any JSON value.
    sample, path = node
    _check(_replace(sample, path, replacement))


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_other_errors(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_text(raw)
