"""Block Kit limits as Slack enforces them (../shared/slack/blockkit-limits.json).

The fake Slack server answers `invalid_blocks` when a payload breaks one, as Slack does.
Lengths are checked in characters and in UTF-16 units, whichever is stricter.
"""

from __future__ import annotations

import json
from typing import Any


def _len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _text(obj: Any, where: str, limit: int, problems: list[str], *, min_len: int = 1) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        problems.append(f"{where}: not a text object")
        return
    text = obj.get("text")
    if not isinstance(text, str) or not (min_len <= _len(text) <= limit):
        size = _len(text) if isinstance(text, str) else "missing"
        problems.append(f"{where}: text length {size} not in [{min_len}, {limit}]")


def _element(element: Any, where: str, problems: list[str]) -> None:
    if element.get("type") == "button":
        _text(element.get("text"), f"{where}.text", 75, problems)
        if element["text"].get("type") != "plain_text":
            problems.append(f"{where}.text: buttons take plain_text")
        if "url" in element and not (0 < _len(element["url"]) <= 3000):
            problems.append(f"{where}.url: over 3000")
        if "value" in element and _len(element["value"]) > 2000:
            problems.append(f"{where}.value: over 2000")
        if "confirm" in element:
            confirm = element["confirm"]
            _text(confirm.get("title"), f"{where}.confirm.title", 100, problems)
            _text(confirm.get("text"), f"{where}.confirm.text", 300, problems)
            _text(confirm.get("confirm"), f"{where}.confirm.confirm", 30, problems)
            _text(confirm.get("deny"), f"{where}.confirm.deny", 30, problems)
    action_id = element.get("action_id", "")
    if _len(action_id) > 255:
        problems.append(f"{where}.action_id: over 255")


def violations(payload: dict[str, Any]) -> list[str]:
    """Every way `payload` (chat.postMessage arguments) breaks a Block Kit limit."""
    problems: list[str] = []
    text = payload.get("text")
    if text is not None and _len(text) > 40000:
        problems.append("text: over 40000")
    blocks = payload.get("blocks")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [*problems, "blocks: not a list of at most 50 blocks"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        if _len(block.get("block_id", "")) > 255:
            problems.append(f"{where}.block_id: over 255")
        kind = block.get("type")
        if kind == "header":
            _text(block.get("text"), f"{where}.text", 150, problems)
            if block["text"].get("type") != "plain_text":
                problems.append(f"{where}: header takes plain_text")
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: section needs text or fields")
            if "text" in block:
                _text(block["text"], f"{where}.text", 3000, problems)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}.fields: over 10")
            for j, field in enumerate(fields):
                _text(field, f"{where}.fields[{j}]", 2000, problems)
            if "accessory" in block:
                _element(block["accessory"], f"{where}.accessory", problems)
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: not 1..10")
            for j, element in enumerate(elements):
                if element.get("type") in ("plain_text", "mrkdwn"):
                    _text(element, f"{where}.elements[{j}]", 3000, problems)
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}.elements: not 1..25")
            for j, element in enumerate(elements):
                _element(element, f"{where}.elements[{j}]", problems)
        elif kind == "input":  # modals only
            _text(block.get("label"), f"{where}.label", 2000, problems)
            if block["label"].get("type") != "plain_text":
                problems.append(f"{where}.label: takes plain_text")
            max_length = (block.get("element") or {}).get("max_length", 0)
            if not 0 <= max_length <= 3000:
                problems.append(f"{where}.element.max_length: not 0..3000")
        elif kind not in ("divider", "rich_text", "image"):
            problems.append(f"{where}: unknown block type {kind!r}")
    total = _len(json.dumps(blocks, ensure_ascii=False))
    if total > 13000:
        problems.append(f"blocks: {total} characters in all, past Slack's msg_blocks_too_long")
    return problems


def modal_violations(view: dict[str, Any]) -> list[str]:
    """Every way a modal (views.open's `view`) breaks a limit of Slack's view object: title,
    submit and close at most 24 characters, private_metadata 3000, callback_id 255, 100 blocks."""
    problems: list[str] = []
    if view.get("type") != "modal":
        problems.append("view.type: not modal")
    for key in ("title", "submit", "close"):
        if key in view or key == "title":
            _text(view.get(key), f"view.{key}", 24, problems)
    if _len(view.get("private_metadata", "")) > 3000:
        problems.append("view.private_metadata: over 3000")
    if _len(view.get("callback_id", "")) > 255:
        problems.append("view.callback_id: over 255")
    blocks = view.get("blocks", [])
    if len(blocks) > 100:
        problems.append("view.blocks: over 100")
    problems.extend(violations({"blocks": blocks[:50]}))
    return problems
