"""A self-contained HTML page that draws chat.postMessage arguments the way Slack shows them.

Pure: messages in, one string out (inline CSS, a small inline script, nothing fetched). It draws
header, section (text and fields), actions (buttons, primary and danger, with their confirm
dialogs), context and divider blocks; mrkdwn bold, italic, strike, code, code blocks, quotes,
links, mentions and emoji shortcodes; date tokens in the reader's own time zone (the script
formats `<!date^...>` as Slack does; without it, the fallback text stays); ephemeral answers;
and a message's thread replies. Every piece of text is escaped for HTML: a commit message
cannot inject markup, and only http(s) and mailto links become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

APP_NAME = "deploybot"
# The shortcodes deploybot's messages use, and a few common ones; others stay as :text:.
EMOJI = {
    "alarm_clock": "⏰",
    "arrow_forward": "▶️",
    "arrows_counterclockwise": "🔄",
    "fast_forward": "⏩",
    "grey_question": "❔",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "information_source": "ℹ️",
    "key": "🔑",
    "large_blue_circle": "🔵",
    "mag": "🔍",
    "memo": "📝",
    "next_track_button": "⏭️",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "octagonal_sign": "🛑",
    "raised_hand": "✋",
    "rewind": "⏪",
    "rocket": "🚀",
    "rotating_light": "🚨",
    "tada": "🎉",
    "warning": "⚠️",
    "white_check_mark": "✅",
    "white_circle": "⚪",
    "x": "❌",
}
_SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
_TOKEN = re.compile(r"(<[^<>\n]+>)")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_EMPHASIS = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "s"),
)
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _unslack(text: str) -> str:
    """Slack's own escaping undone: what the reader sees as characters."""
    for entity, char in _SLACK_ENTITIES:
        text = text.replace(entity, char)
    return text


def _emoji(escaped: str) -> str:
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), escaped)


def _emphasis(escaped: str) -> str:
    for pattern, tag in _EMPHASIS:
        escaped = pattern.sub(rf"<{tag}>\1</{tag}>", escaped)
    return escaped


def _words(text: str) -> str:
    """Plain mrkdwn text (no tokens, no code) as HTML."""
    return _emoji(_emphasis(_e(_unslack(text))))


def _date(token: str) -> str:
    body, _, fallback = token.partition("|")
    parts = body.split("^")
    epoch = parts[1] if len(parts) > 1 and parts[1].isdigit() else ""
    shape = parts[2] if len(parts) > 2 else "{date_short}"
    if not epoch:
        return _e(_unslack(fallback))
    return (
        f'<time data-epoch="{epoch}" data-format="{_e(_unslack(shape))}">'
        f"{_e(_unslack(fallback))}</time>"
    )


def _token(token: str) -> str:
    """One `<...>` sequence: a link, a mention, a date."""
    inner = token[1:-1]
    if inner.startswith("!date^"):
        return _date(inner)
    target, _, label = inner.partition("|")
    if target.startswith("!"):  # <!here>, <!channel>, <!subteam^S123|@team>
        name = label or "@" + target[1:].split("^")[-1]
        return f'<span class="mention">{_e(_unslack(name))}</span>'
    if target.startswith(("@", "#")):  # <@U123>, <#C123|name>
        name = target[0] + label if label else target
        return f'<span class="mention">{_e(_unslack(name))}</span>'
    url = _unslack(target)
    shown = _inline(label) if label else _e(url)
    if not _SAFE_LINK.match(url):
        return shown
    return f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{shown}</a>'


def _inline(text: str) -> str:
    """One line of mrkdwn: tokens, inline code, emphasis, emoji."""
    out = []
    for index, part in enumerate(_TOKEN.split(text)):
        if index % 2:
            out.append(_token(part))
            continue
        for number, piece in enumerate(re.split(r"`([^`\n]+)`", part)):
            out.append(f"<code>{_e(_unslack(piece))}</code>" if number % 2 else _words(piece))
    return "".join(out)


def _code_block(text: str) -> str:
    shown = _TOKEN.sub(lambda m: m.group(0)[1:-1].partition("|")[2] or m.group(0), text)
    return f"<pre>{_e(_unslack(shown.strip(chr(10))))}</pre>"


def _paragraphs(text: str) -> str:
    """Lines of mrkdwn, with `>` quotes as Slack draws them."""
    out: list[str] = []
    quote: list[str] = []
    for line in text.split("\n"):
        if line.startswith(">"):
            quote.append(_inline(line[1:].lstrip()))
            continue
        if quote:
            out.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
            quote = []
        out.append(_inline(line) + "<br>")
    if quote:
        out.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
    return "".join(out).removesuffix("<br>")


def mrkdwn(text: str) -> str:
    """Slack mrkdwn (with Slack's &amp; &lt; &gt; escaping) as HTML."""
    parts = text.split("```")
    if len(parts) % 2 == 0:  # an unclosed fence is text
        parts[-2:] = ["```".join(parts[-2:])]
    return "".join(
        _code_block(part) if index % 2 else _paragraphs(part) for index, part in enumerate(parts)
    )


def text_object(obj: Mapping[str, Any] | None) -> str:
    """A text object: mrkdwn is formatted; plain_text is shown as it is (emoji converted)."""
    if not obj:
        return ""
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(text)
    return _emoji(_e(text))


class _Renderer:
    """Draws one page; confirm dialogs are gathered and placed at its end."""

    def __init__(self, channel: str) -> None:
        self.channel = channel  # the page's channel: other channels are named on their messages
        self.dialogs: list[str] = []

    def button(self, element: Mapping[str, Any]) -> str:
        style = element.get("style", "")
        classes = "button" + (f" {style}" if style in ("primary", "danger") else "")
        label = text_object(element.get("text"))
        confirm = element.get("confirm")
        extra = ""
        if isinstance(confirm, Mapping):
            extra = f' data-confirm="confirm-{len(self.dialogs)}"'
            self.dialogs.append(self.dialog(confirm, len(self.dialogs)))
        url = str(element.get("url", ""))
        if url and _SAFE_LINK.match(url):
            return (
                f'<a class="{classes}" href="{_e(url)}" target="_blank" '
                f'rel="noopener noreferrer"{extra}>{label}</a>'
            )
        return f'<button class="{classes}" type="button"{extra}>{label}</button>'

    def dialog(self, confirm: Mapping[str, Any], number: int) -> str:
        style = "danger" if confirm.get("style") == "danger" else "primary"
        return (
            f'<dialog id="confirm-{number}" class="confirm">'
            f"<h2>{text_object(confirm.get('title'))}</h2>"
            f'<div class="confirm-text">{text_object(confirm.get("text"))}</div>'
            '<div class="confirm-buttons">'
            f'<button class="button" type="button">{text_object(confirm.get("deny"))}</button>'
            f'<button class="button {style}" type="button">'
            f"{text_object(confirm.get('confirm'))}</button></div></dialog>"
        )

    def element(self, element: Mapping[str, Any]) -> str:
        kind = element.get("type")
        if kind == "button":
            return self.button(element)
        if kind in ("mrkdwn", "plain_text"):
            return f"<span>{text_object(element)}</span>"
        if kind == "image":
            return f'<span class="image">[{_e(element.get("alt_text", "image"))}]</span>'
        return f'<span class="unknown">[{_e(kind)}]</span>'

    def block(self, block: Mapping[str, Any]) -> str:
        kind = block.get("type")
        if kind == "header":
            return f'<div class="header">{text_object(block.get("text"))}</div>'
        if kind == "section":
            return self.section(block)
        if kind == "actions":
            buttons = "".join(self.element(e) for e in block.get("elements", []))
            return f'<div class="actions">{buttons}</div>'
        if kind == "context":
            items = "".join(self.element(e) for e in block.get("elements", []))
            return f'<div class="context">{items}</div>'
        if kind == "divider":
            return "<hr>"
        return f'<div class="unknown">unsupported block: {_e(kind)}</div>'

    def section(self, block: Mapping[str, Any]) -> str:
        parts = []
        if block.get("text"):
            parts.append(f'<div class="text">{text_object(block["text"])}</div>')
        fields = "".join(
            f'<div class="field">{text_object(f)}</div>' for f in block.get("fields", [])
        )
        if fields:
            parts.append(f'<div class="fields">{fields}</div>')
        accessory = block.get("accessory")
        side = f'<div class="accessory">{self.element(accessory)}</div>' if accessory else ""
        return f'<div class="section"><div class="body">{"".join(parts)}</div>{side}</div>'

    def message(self, message: Mapping[str, Any], *, reply: bool = False) -> str:
        blocks = message.get("blocks") or []
        if blocks:
            body = "".join(self.block(b) for b in blocks)
        else:
            body = f'<div class="text">{mrkdwn(str(message.get("text", "")))}</div>'
        notes = []
        if message.get("response_type") == "ephemeral":
            notes.append('<div class="note">👁 Only visible to you</div>')
        if reply and message.get("reply_broadcast"):
            notes.append('<div class="note">Also sent to the channel</div>')
        channel = str(message.get("channel") or "")
        other = channel and channel != self.channel and not reply
        where = f'<span class="where">in {_e(channel)}</span>' if other else ""
        return (
            f'<article class="message{" reply" if reply else ""}">'
            '<div class="avatar" aria-hidden="true">🚀</div><div class="content">'
            f"{''.join(notes)}"
            f'<div class="byline"><b>{APP_NAME}</b><span class="app">APP</span>{where}</div>'
            f"{body}{self.thread(message)}</div></article>"
        )

    def thread(self, message: Mapping[str, Any]) -> str:
        replies = message.get("replies") or []
        if not replies:
            return ""
        count = f"{len(replies)} repl{'y' if len(replies) == 1 else 'ies'}"
        drawn = "".join(self.message(r, reply=True) for r in replies)
        return f'<div class="thread"><div class="count">{count}</div>{drawn}</div>'


def page(posts: Sequence[Mapping[str, Any]], *, title: str = "deploybot preview") -> str:
    """The page for `posts` (chat.postMessage argument objects; "replies" holds a thread)."""
    channel = str(posts[0].get("channel") or "") if posts else ""
    renderer = _Renderer(channel)
    drawn = "".join(renderer.message(post) for post in posts) or (
        '<p class="empty">Nothing would be posted.</p>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="bar">{_e(channel or title)}</header><main>{drawn}</main>'
        f"{''.join(renderer.dialogs)}<script>{SCRIPT}</script></body></html>\n"
    )


CSS = """
:root{--text:#1d1c1d;--muted:#616061;--link:#1264a3;--line:#dddddd}
*{box-sizing:border-box}
body{margin:0;font:15px/1.47 "Lato","Helvetica Neue",Helvetica,"Segoe UI",Arial,sans-serif,
"Noto Color Emoji","Apple Color Emoji";color:var(--text);background:#fff}
.bar{padding:10px 20px;border-bottom:1px solid var(--line);font-weight:900;font-size:18px}
main{padding:8px 0;max-width:760px}
.message{display:flex;gap:8px;padding:8px 20px}
.message:hover{background:#f8f8f8}
.avatar{flex:none;width:36px;height:36px;border-radius:6px;background:#232f3e;display:flex;
align-items:center;justify-content:center;font-size:20px}
.content{min-width:0;flex:1}
.byline b{font-weight:900}
.app{margin-left:4px;padding:0 3px;border-radius:2px;background:#e8e8e8;color:var(--muted);
font-size:10px;font-weight:700;vertical-align:1px}
.where{margin-left:8px;color:var(--muted);font-size:12px}
.note{color:var(--muted);font-size:13px}
.header{font-weight:900;font-size:18px;margin:4px 0}
.section{display:flex;gap:12px;margin:4px 0}.section .body{flex:1;min-width:0}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:8px 16px;margin-top:4px}
.context{display:flex;flex-wrap:wrap;gap:8px;color:var(--muted);font-size:12px;margin:4px 0}
.actions{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.button{display:inline-block;padding:3px 12px;min-height:28px;border:1px solid #bbbabb;
border-radius:4px;background:#fff;color:var(--text);font-family:inherit;font-size:13px;
font-weight:700;line-height:20px;text-decoration:none;cursor:pointer}
.button.primary{background:#007a5a;border-color:#007a5a;color:#fff}
.button.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
a{color:var(--link);text-decoration:none}
code{padding:2px 3px;border:1px solid var(--line);border-radius:3px;background:#f6f6f6;
color:#e01e5a;font:12px Monaco,Menlo,Consolas,monospace}
a code{color:var(--link)}
pre{margin:4px 0;padding:8px;border:1px solid var(--line);border-radius:4px;background:#f8f8f8;
font:12px/1.5 Monaco,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-word}
blockquote{margin:4px 0;padding-left:12px;border-left:4px solid var(--line)}
.mention{padding:0 2px;border-radius:3px;background:#e8f5fa;color:var(--link)}
.thread{margin-top:6px;border-left:2px solid var(--line);padding-left:4px}
.thread .count{color:var(--link);font-weight:700;font-size:13px;padding:0 16px}
.reply{padding:6px 16px}
.unknown,.image{color:var(--muted);font-style:italic}
dialog.confirm{width:440px;border:0;border-radius:8px;padding:20px 28px;
box-shadow:0 18px 48px rgba(0,0,0,.35)}
dialog.confirm::backdrop{background:rgba(0,0,0,.45)}
dialog h2{margin:0 0 12px;font-size:22px;font-weight:900}
.confirm-buttons{display:flex;justify-content:flex-end;gap:12px;margin-top:24px}
.empty{padding:20px;color:var(--muted)}
"""

SCRIPT = r"""
(function () {
  var MONTHS = ["January","February","March","April","May","June","July","August",
    "September","October","November","December"];
  var DAYS = ["Sunday","Monday","Tuesday","Wednesday","Thursday","Friday","Saturday"];
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function nth(n) {
    var s = ["th","st","nd","rd"], v = n % 100;
    return n + (s[(v - 20) % 10] || s[v] || s[0]);
  }
  function relative(d) {
    var today = new Date(); today.setHours(0, 0, 0, 0);
    var day = new Date(d); day.setHours(0, 0, 0, 0);
    var diff = Math.round((day - today) / 86400000);
    return {"-1": "yesterday", "0": "today", "1": "tomorrow"}[diff] || "";
  }
  function ymd(d) { return [d.getFullYear(), pad(d.getMonth() + 1), pad(d.getDate())]; }
  function clock(d, secs) {
    var shape = {hour: "numeric", minute: "2-digit"};
    if (secs) { shape.second = "2-digit"; }
    return d.toLocaleTimeString([], shape);
  }
  var TOKENS = {
    date_num: function (d) { return ymd(d).join("-"); },
    date: function (d) {
      return MONTHS[d.getMonth()] + " " + nth(d.getDate()) + ", " + d.getFullYear();
    },
    date_short: function (d) {
      return MONTHS[d.getMonth()].slice(0, 3) + " " + d.getDate() + ", " + d.getFullYear();
    },
    date_long: function (d) { return DAYS[d.getDay()] + ", " + TOKENS.date(d); },
    date_pretty: function (d) { return relative(d) || TOKENS.date(d); },
    date_short_pretty: function (d) { return relative(d) || TOKENS.date_short(d); },
    date_long_pretty: function (d) { return relative(d) || TOKENS.date_long(d); },
    time: function (d) { return clock(d, false); },
    time_secs: function (d) { return clock(d, true); }
  };
  document.querySelectorAll("time[data-epoch]").forEach(function (el) {
    var d = new Date(Number(el.getAttribute("data-epoch")) * 1000);
    var text = el.getAttribute("data-format").replace(/\{(\w+)\}/g, function (m, key) {
      return TOKENS[key] ? TOKENS[key](d) : m;
    });
    el.textContent = text.charAt(0).toUpperCase() + text.slice(1);
    el.title = d.toString();
  });
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      document.getElementById(button.getAttribute("data-confirm")).showModal();
    });
  });
  document.querySelectorAll("dialog button").forEach(function (button) {
    button.addEventListener("click", function () { button.closest("dialog").close(); });
  });
  if (location.hash === "#confirm" && document.querySelector("dialog")) {
    document.querySelector("dialog").showModal();
  }
  var root = document.documentElement;
  root.setAttribute("data-height", String(Math.ceil(document.body.getBoundingClientRect().height)));
  root.setAttribute("data-rendered", "yes");
})();
"""
