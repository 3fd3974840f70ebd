"""Block Kit as Slack enforces it: the limits of fixtures/slack/blockkit-limits.json (copied from
../shared/slack/, each number with its source), then slack_sdk's models, which check nested
elements in `to_dict()` (slack_sdk 3.48; the table says which limits it checks).

The fake Slack server answers `invalid_blocks` when a payload breaks one, as Slack does.
Lengths are counted in UTF-16 units, never fewer than the characters Slack may count. Text that
cannot be encoded as UTF-8 (a lone surrogate) is a violation too: Slack cannot receive it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

LIMITS = json.loads(
    (Path(__file__).parent / "fixtures" / "slack" / "blockkit-limits.json").read_text("utf-8")
)
MESSAGE, BUTTON, CONFIRM = LIMITS["message"], LIMITS["button"], LIMITS["confirmation_dialog"]
TEXT_MAX = LIMITS["text_object"]["text_chars"]["max"]
BLOCKS_MAX = MESSAGE["blocks_per_message"]["max"]
# Undocumented ("~13,000 chars observed", bolt-js#2509): the table gives no number to read.
AGGREGATE_MAX = 13000
KNOWN_BLOCKS = ("header", "section", "context", "actions", "divider", "rich_text", "image")


def _len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _text(obj: Any, where: str, limit: int, problems: list[str], *, plain: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        problems.append(f"{where}: not a text object")
        return
    if plain and obj["type"] != "plain_text":
        problems.append(f"{where}: must be plain_text")
    text = obj.get("text")
    low = LIMITS["text_object"]["text_chars"]["min"]
    if not isinstance(text, str) or not (low <= _len(text) <= limit):
        size = _len(text) if isinstance(text, str) else "missing"
        problems.append(f"{where}: text length {size} not in [{low}, {limit}]")


def _max(value: Any, limit: int, where: str, problems: list[str]) -> None:
    if not isinstance(value, str) or _len(value) > limit:
        problems.append(f"{where}: not a string of at most {limit}")


def _confirm(confirm: Any, where: str, problems: list[str]) -> None:
    for key, limit_key in (("title", "title_chars"), ("confirm", "confirm_chars")):
        _text(confirm.get(key), f"{where}.{key}", CONFIRM[limit_key]["max"], problems, plain=True)
    _text(confirm.get("text"), f"{where}.text", CONFIRM["text_chars"]["max"], problems)
    _text(confirm.get("deny"), f"{where}.deny", CONFIRM["deny_chars"]["max"], problems, plain=True)
    if "style" in confirm and confirm["style"] not in CONFIRM["style"]["enum"]:
        problems.append(f"{where}.style: not one of {CONFIRM['style']['enum']}")


def _element(element: Any, where: str, problems: list[str]) -> None:
    if not isinstance(element, dict):
        problems.append(f"{where}: not an object")
        return
    if element.get("type") == "button":
        _text(
            element.get("text"), f"{where}.text", BUTTON["text_chars"]["max"], problems, plain=True
        )
        if "url" in element:
            _max(element["url"], BUTTON["url_chars"]["max"], f"{where}.url", problems)
        if "value" in element:
            _max(element["value"], BUTTON["value_chars"]["max"], f"{where}.value", problems)
        if "style" in element and element["style"] not in BUTTON["style"]["enum"]:
            problems.append(f"{where}.style: not one of {BUTTON['style']['enum']}")
        if "confirm" in element:
            _confirm(element["confirm"], f"{where}.confirm", problems)
    if "action_id" in element:
        _max(element["action_id"], BUTTON["action_id_chars"]["max"], f"{where}.action_id", problems)


def _section(block: dict[str, Any], where: str, problems: list[str]) -> None:
    section = LIMITS["section"]
    if "text" not in block and "fields" not in block:
        problems.append(f"{where}: section needs text or fields")
    if "text" in block:
        _text(block["text"], f"{where}.text", section["text_chars"]["max"], problems)
    fields = block.get("fields", [])
    if len(fields) > section["fields_count"]["max"]:
        problems.append(f"{where}.fields: over {section['fields_count']['max']}")
    for j, field in enumerate(fields):
        _text(field, f"{where}.fields[{j}]", section["field_text_chars"]["max"], problems)
    if "accessory" in block:
        _element(block["accessory"], f"{where}.accessory", problems)


def _block(block: Any, where: str, problems: list[str]) -> None:
    if not isinstance(block, dict):
        problems.append(f"{where}: not an object")
        return
    if "block_id" in block:
        _max(block["block_id"], LIMITS["block_id"]["max_chars"], f"{where}.block_id", problems)
    kind = block.get("type")
    if kind == "header":
        _text(
            block.get("text"),
            f"{where}.text",
            LIMITS["header"]["text_chars"]["max"],
            problems,
            plain=True,
        )
    elif kind == "section":
        _section(block, where, problems)
    elif kind in ("context", "actions"):
        elements = block.get("elements", [])
        most = LIMITS[kind]["elements"]["max"]
        if not 1 <= len(elements) <= most:
            problems.append(f"{where}.elements: not 1..{most}")
        for j, element in enumerate(elements):
            if kind == "context" and isinstance(element, dict) and element.get("type") != "image":
                _text(element, f"{where}.elements[{j}]", TEXT_MAX, problems)
            else:
                _element(element, f"{where}.elements[{j}]", problems)
    elif kind not in KNOWN_BLOCKS:
        problems.append(f"{where}: unknown block type {kind!r}")


def _sdk(blocks: list[Any], problems: list[str]) -> None:
    """slack_sdk's models: each block parsed, then `to_dict()`, which validates nested parts."""
    for i, block in enumerate(blocks):
        try:
            parsed = Block.parse(block)
            if parsed is None:
                problems.append(f"blocks[{i}]: slack_sdk does not know this block")
            else:
                parsed.to_dict()
        except (SlackObjectFormationError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"blocks[{i}]: slack_sdk: {exc}")


def violations(payload: dict[str, Any]) -> list[str]:
    """Every way `payload` (chat.postMessage arguments) breaks a Block Kit limit."""
    problems: list[str] = []
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        problems.append(f"not UTF-8: {exc.reason} at {exc.start}")
    text = payload.get("text")
    if text is not None and _len(text) > MESSAGE["top_level_text_truncation_chars"]["max"]:
        problems.append(f"text: over {MESSAGE['top_level_text_truncation_chars']['max']}")
    blocks = payload.get("blocks")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or len(blocks) > BLOCKS_MAX:
        return [*problems, f"blocks: not a list of at most {BLOCKS_MAX} blocks"]
    for i, block in enumerate(blocks):
        _block(block, f"blocks[{i}]", problems)
    _sdk(blocks, problems)
    total = _len(json.dumps(blocks, ensure_ascii=False))
    if total > AGGREGATE_MAX:
        problems.append(f"blocks: {total} characters in all, past Slack's msg_blocks_too_long")
    return problems


def modal_violations(view: dict[str, Any]) -> list[str]:
    """Every way a modal (views.open's `view`) breaks a limit of Slack's view object: title,
    submit and close at most 24 characters, private_metadata 3000, callback_id 255, 100 blocks;
    an input block's label 2000 characters, a plain_text_input's max_length 3000."""
    problems: list[str] = []
    if view.get("type") != "modal":
        problems.append("view.type: not modal")
    for key in ("title", "submit", "close"):
        if key in view or key == "title":
            _text(view.get(key), f"view.{key}", 24, problems, plain=True)
    if _len(view.get("private_metadata", "")) > 3000:
        problems.append("view.private_metadata: over 3000")
    if _len(view.get("callback_id", "")) > 255:
        problems.append("view.callback_id: over 255")
    blocks = view.get("blocks", [])
    if len(blocks) > 100:
        problems.append("view.blocks: over 100")
    for i, block in enumerate(blocks):
        if block.get("type") == "input":
            _text(block.get("label"), f"view.blocks[{i}].label", 2000, problems, plain=True)
            if not 0 <= (block.get("element") or {}).get("max_length", 0) <= 3000:
                problems.append(f"view.blocks[{i}].element.max_length: not 0..3000")
        else:
            _block(block, f"view.blocks[{i}]", problems)
    _sdk(blocks, problems)
    return problems
