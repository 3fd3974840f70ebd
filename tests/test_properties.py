"""Property tests: no input makes the parser raise anything but ParseError, and whatever it
accepts renders within Block Kit limits (tests/blockkit.py, slack_sdk's models included) with
honest links and store state that encodes (tests/hostile.py `check`).

The mutated real samples run 10,000 examples in CI; bench/fuzz_notifications.py runs many
more for a report."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.events import ParseError, parse_text
from tests import hostile

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
    hostile.check(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises_other_errors(data: Any) -> None:
    _check(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(aws_like)
def test_aws_shaped_json_never_raises_other_errors(data: Any) -> None:
    _check(data)


replacements = (
    st.sampled_from(hostile.HOSTILE)
    | st.just(hostile.DELETE)
    | st.text(max_size=24)
    | st.integers()
    | st.floats(allow_nan=False)
)


PATHS = [hostile.paths(sample) for sample in hostile.SAMPLES]


@settings(
    max_examples=10_000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.integers(0, len(hostile.SAMPLES) - 1),
    st.lists(st.tuples(st.integers(0, 10**6), replacements), min_size=1, max_size=3),
)
def test_mutated_real_payloads_never_raise_other_errors(
    sample: int, mutations: list[tuple[int, Any]]
) -> None:
    # GIVEN a real payload with one to three nodes (inside nested JSON strings too) replaced by
    # hostile values or deleted
    payload, paths = hostile.SAMPLES[sample], PATHS[sample]
    for index, (where, replacement) in enumerate(mutations):
        if index:
            paths = hostile.paths(payload)
        payload = hostile.replace_at(payload, paths[where % len(paths)], replacement)
    # WHEN it is parsed and rendered as the notification door would, THEN only ParseError is
    # raised, and every message fits Block Kit, links honestly and stores
    hostile.check(payload)


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_other_errors(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_text(raw)


def test_every_real_sample_passes_the_check_unchanged() -> None:
    # The check is strict enough to fail (tests/test_hostile_input.py shows its parts can) and
    # the real samples, untouched, pass it
    assert sum(hostile.check(sample) for sample in hostile.SAMPLES) > len(hostile.SAMPLES)
