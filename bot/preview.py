"""A terminal preview of a chat.postMessage argument object, and its Block Kit Builder link."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

BUILDER_URL = "https://app.slack.com/block-kit-builder/#"
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<([^|>]+)\|([^>]*)>")
_SPECIAL = re.compile(r"<!(subteam\^)?([^>|]+)>")


def builder_url(message: dict[str, Any]) -> str:
    """Open the blocks in Slack's Block Kit Builder (the JSON travels in the URL fragment)."""
    return BUILDER_URL + quote(json.dumps({"blocks": message.get("blocks", [])}), safe="")


def _readable(mrkdwn: str) -> str:
    text = _DATE.sub(r"\1", mrkdwn)
    text = _LINK.sub(r"\2 (\1)", text)
    text = _SPECIAL.sub(r"@\2", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = str(block["text"]["text"])
        return [title, "=" * min(len(title), 72)]
    if kind == "section":
        lines = []
        if "text" in block:
            lines.append(_readable(block["text"]["text"]))
        for field in block.get("fields", []):
            label, _, value = _readable(field["text"]).partition("\n")
            lines.append(f"{label.strip('*')}: {value}")
        return lines
    if kind == "actions":
        return ["  ".join(f"[{e['text']['text']}] {e.get('url', '')}" for e in block["elements"])]
    if kind == "context":
        return [_readable(" ".join(e.get("text", "") for e in block["elements"]))]
    return [json.dumps(block)]


def render_blocks(blocks: list[dict[str, Any]]) -> str:
    """Blocks as terminal text, one paragraph per block."""
    lines: list[str] = []
    for block in blocks:
        lines.extend(_block_lines(block))
        lines.append("")
    return "\n".join(lines)


def preview(message: dict[str, Any]) -> str:
    """What a reader would see, roughly, in plain text."""
    lines = [f"to {message.get('channel', '(webhook channel)')}", ""]
    lines.append(render_blocks(message.get("blocks", [])))
    lines.append(f"notification text: {_readable(str(message.get('text', '')))}")
    lines.append(f"Block Kit Builder: {builder_url(message)}")
    return "\n".join(lines)
