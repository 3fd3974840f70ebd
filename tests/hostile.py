"""Hostile versions of the real samples, and the check every version must pass.

Shared by tests/test_properties.py (hypothesis, in CI) and bench/fuzz_notifications.py (many
more, for a report). A mutation replaces or deletes one node of a real payload, inside nested
JSON strings too (an SNS Message, a CodeDeploy overview), with values that broke deploybot
once: lone surrogates, "²", URLs that do not parse, regions that are hosts, fences, bidi
controls, huge strings, wrong types.

`check` parses and renders a payload the way the notification door does (a post per event,
and the living message with its failure reply) and fails on anything but a ParseError, on a
message Slack would refuse (tests/blockkit.py), on a link that is not http(s) or that
leaves the AWS console for a console button, and on store state that cannot be encoded.
"""

from __future__ import annotations

import json
import random
from typing import Any

from bot.domain.config import (
    ApprovalSettings,
    Config,
    RollbackGroup,
    RollbackPipeline,
    RollbackSettings,
)
from bot.domain.events import ParseError, parse_payload
from bot.domain.living import (
    MAIN,
    Slot,
    State,
    absorb,
    build_view,
    dump_state,
    load_state,
    message_key,
    with_slot,
)
from bot.plan import living_targets, plan
from tests.blockkit import violations
from tests.conftest import SAMPLE_FILES

SAMPLES = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLE_FILES]
_EVENTS = [event for sample in SAMPLES for event in parse_payload(sample)]
# Mentions, sites, rollback for every pipeline and group the samples name, and approvals: each
# button (a rollback's and an approval's value included) is built from hostile input too.
CONFIG = Config(
    failure_mentions=("U0123ABC", "S0PLATFORM", "here"),
    sites={"production": "https://www.example.com", "meerkat": "https://meerkat.example"},
    rollback=RollbackSettings(
        pipelines=tuple(RollbackPipeline(p) for p in sorted({e.pipeline for e in _EVENTS} - {""})),
        deployment_groups=tuple(
            RollbackGroup(a, g)
            for a, g in sorted({(e.application, e.deployment_group) for e in _EVENTS})
            if a and g
        ),
        users=("U0123ABC",),
        channels=("C0DEPLOYS",),
    ),
    approvals=ApprovalSettings(users=("U0123ABC",), channels=("C0DEPLOYS",)),
)

HOSTILE: list[Any] = [
    "", " ", "x", "{}", "[]", "null", "-1", "1e999", "NaN", "²", "١٢", "0x10",
    "\ud800", "a\udfffb", "\udc00\ud800", "😀\ud83d", "\x00", "\x1b[31m",
    "https://[x", "https://[::1]/", "http://user@console.aws.amazon.com@evil.example/",
    "https://evil.example\\@github.com/", "javascript:alert(1)", "https://exa mple.com/",
    "evil.example/x#", "eu-west-1.evil.example", "us-east-1\n", "us-gov-west-1", "cn-north-1",
    "../../x", "a/../../b", "d-AAAAAAAAA", "d-../x", "000000000000", "12345678901",
    "```", "`", "``x``", "<!channel>", "<@U123>", "<https://evil.example|click>", "&amp;",
    "*bold* _it_ ~s~", "\u202egnp.exe", "pro\u200bduction", "\u2066x\u2069", "\ufeff",
    "👨\u200d👩\u200d👧", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "x" * 5000, "ü" * 3000, "😀" * 2000, "\n" * 200, "a\r\nb\rc",
    "FAILED", "Failed", "unknown", "SUCCEEDED", "Thu Oct 13 15:50:45 UTC 2022", "1446744188.595",
    "9999-99-99T99:99:99Z", "2022-10-13T15:50:45Z",
    None, True, False, 0, -1, 1.5, 10**30, -(10**30), float("inf"),
    [], {}, ["x"], [None], {"a": "b"}, {"Succeeded": "²"}, [{}] * 30,
]  # fmt: skip

JSON = object()  # a path step that decodes a JSON string


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node of a payload, nested JSON strings included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(paths(child, (*prefix, index)))
    elif (inner := _decoded(value)) is not None:
        found.extend(paths(inner, (*prefix, JSON)))
    return found


_DELETE = object()


def replace_at(value: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    """`value` with the node at `path` replaced (or deleted, for `DELETE`)."""
    if not path:
        return None if replacement is _DELETE else replacement
    step, rest = path[0], path[1:]
    if step is JSON:
        return json.dumps(replace_at(json.loads(value), rest, replacement))
    if isinstance(value, dict):
        if not rest and replacement is _DELETE:
            return {k: v for k, v in value.items() if k != step}
        return {**value, step: replace_at(value[step], rest, replacement)}
    if not rest and replacement is _DELETE:
        return [*value[:step], *value[step + 1 :]]
    return [*value[:step], replace_at(value[step], rest, replacement), *value[step + 1 :]]


DELETE = _DELETE
NODES = [(index, path) for index, sample in enumerate(SAMPLES) for path in paths(sample)]


def mutate(rng: random.Random, payload: Any, count: int) -> Any:
    """`payload` with `count` random nodes replaced by hostile values or deleted."""
    for _ in range(count):
        path = rng.choice(paths(payload))
        replacement = DELETE if rng.random() < 0.1 else rng.choice(HOSTILE)
        payload = replace_at(payload, path, replacement)
    return payload


def _links(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (element.get("action_id", ""), element["url"])
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
        if "url" in element
    ]


def _check_message(message: dict[str, Any]) -> None:
    problems = violations(message)
    assert problems == [], problems
    for action_id, url in _links(message):
        assert url.startswith(("https://", "http://")), url
        if action_id == "link_console":
            host = url.split("/")[2]
            assert host.endswith(".console.aws.amazon.com"), url


def check(payload: Any) -> int:
    """Parse and render `payload` as the door would; return how many messages were checked."""
    try:
        events = parse_payload(payload)
    except ParseError:
        return 0
    checked = 0
    for item in plan(events, CONFIG):
        if item.message is not None:
            _check_message(item.message)
            checked += 1
    for event in events:
        key = message_key(event)
        state = absorb(State(), event)
        if state is None:
            continue
        # What the store keeps, and the living message once posted (so a failure has a reply)
        assert load_state(dump_state(state).encode("utf-8").decode("utf-8")) is not None
        key.encode("utf-8")
        view = build_view(key, state.events.values())
        posted = with_slot(state, MAIN, Slot(channel="C0DEPLOYS", ts="1700000000.000100"))
        for target in living_targets(key, posted, view, CONFIG, editable=True).values():
            _check_message(target)
            checked += 1
    return checked
