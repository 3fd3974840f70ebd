"""Safe text for Slack: mrkdwn escaping, limit-aware truncation, dates and durations.

Lengths are counted in UTF-16 code units, which is never less than the character count Slack
may use, so a string that fits here fits in Slack. Truncation never splits a character, a
combining sequence, an emoji ZWJ sequence or a flag.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import quote

from bot.domain.urls import split_url

ELLIPSIS = "…"
LINK_URL_MAX = 500  # a longer URL in mrkdwn would crowd out the text around it
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def units(text: str) -> int:
    """Length as Slack may count it at most (UTF-16 code units)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def escape(text: str) -> str:
    """Escape the three characters mrkdwn treats as control characters."""
    return text.translate(_ESCAPES)


# What hides inside a name or reorders it (so that it reads as another), and has no use in what
# deploybot shows: Unicode's format characters (category Cf: bidi controls, zero-width spaces,
# the soft hyphen, invisible operators; as of Unicode 15.1, the joiners and tags aside, which
# follow), control characters but newline and tab (Cc: NUL, terminal escapes, C1), and the
# letters that show nothing: the Hangul fillers and the combining grapheme joiner. The ones in
# the Basic Multilingual Plane are one class, which re checks with one lookup per character;
# the rest are looked for only in text that has characters beyond it (most text has none).
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # Cc but \t and \n
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"  # Cf
    "\u115f\u1160\u3164\uffa0\u034f]"  # Hangul fillers, combining grapheme joiner
)
_HIDDEN_ASTRAL = re.compile(
    "[\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a]"
)
# Joiners are kept only between two non-ASCII characters: emoji sequences and scripts such as
# Persian or Devanagari need them there; between ASCII letters they only hide a difference.
_STRAY_JOINER = re.compile("(?<![^\x00-\x7f])[\u200c\u200d]|[\u200c\u200d](?![^\x00-\x7f])")
# Tag characters are invisible ASCII look-alikes, except in a flag (U+1F3F4 and its tags).
_TAGS = re.compile("(\U0001f3f4)?([\U000e0000-\U000e007f]+)")
# A run of three backticks opens or closes a code block: untrusted text must not hold one.
_FENCE = re.compile("`{3,}")


def visible(text: str) -> str:
    """`text` without format and control characters (but newlines and tabs), invisible letters,
    and stray joiners or tags."""
    text = _HIDDEN.sub("", text)
    if text.isascii():
        return text
    if units(text) > len(text):  # characters beyond the BMP: astral format characters, tags
        text = _HIDDEN_ASTRAL.sub("", text)
        text = _TAGS.sub(lambda m: m.group(0) if m.group(1) else "", text)
    if "\u200c" in text or "\u200d" in text:
        text = _STRAY_JOINER.sub("", text)
    return text


def _no_fence(text: str) -> str:
    return _FENCE.sub(lambda m: "ˋ" * len(m.group()), text)


def _joins_previous(ch: str) -> bool:
    """True when `ch` belongs to the cluster before it, so a cut must not fall before it."""
    code = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or code == 0x200D  # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _safe_cut(text: str, cut: int) -> int:
    """Move `cut` left until text[:cut] ends on a whole grapheme cluster."""
    while 0 < cut < len(text) and (_joins_previous(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    # A flag is a pair of regional indicators: do not keep half of one.
    if 0 < cut < len(text) and _is_regional(text[cut]) and _is_regional(text[cut - 1]):
        run = 0
        while cut - run - 1 >= 0 and _is_regional(text[cut - run - 1]):
            run += 1
        if run % 2:
            cut -= 1
    return cut


def truncate(text: str, limit: int) -> str:
    """Return `text` if it fits in `limit` units, else its longest whole-cluster prefix plus …."""
    if units(text) <= limit:
        return text
    budget = limit - 1  # room for the ellipsis
    cut, used = 0, 0
    for ch in text:
        step = 2 if ord(ch) > 0xFFFF else 1
        if used + step > budget:
            break
        used += step
        cut += 1
    return text[: _safe_cut(text, cut)].rstrip() + ELLIPSIS


def mrkdwn(text: str, limit: int) -> str:
    """Escape untrusted text for mrkdwn, truncated so that the escaped form fits `limit`.

    Hidden characters go (`visible`) and a run of backticks cannot open a code block.
    """
    text = _no_fence(visible(text))
    escaped = escape(text)
    if units(escaped) <= limit:
        return escaped
    # Cut the raw text, never an entity in half; shrink until the escaped result fits.
    raw_limit = limit
    while True:
        candidate = escape(truncate(text, raw_limit))
        if units(candidate) <= limit:
            return candidate
        raw_limit -= max(1, units(candidate) - limit)


_ANGLES = str.maketrans({"<": "‹", ">": "›"})


def inline(text: str, limit: int) -> str:
    """Untrusted text for mrkdwn on one line (a name, not a message), within `limit`.

    Backticks become look-alikes: in a name they would start code formatting that runs into
    deploybot's own code spans.
    """
    return mrkdwn(" ".join(visible(text).replace("`", "ˋ").split()), limit)


def plain(text: str, limit: int) -> str:
    """Untrusted text for a plain_text object, on one line, within `limit`.

    Angle brackets become look-alikes, so no client can ever read `<!channel>` as a mention.
    """
    return truncate(" ".join(visible(text).split()).translate(_ANGLES), limit)


def code_span(text: str, limit: int) -> str:
    """An inline code span of untrusted text; backticks inside cannot close it early."""
    return "`" + mrkdwn(text.replace("`", "ˋ").replace("\n", " "), limit - 2) + "`"


def code_block(text: str, limit: int, *, tail: bool = False) -> str:
    """A fenced block of untrusted text within `limit`; `tail` keeps the last lines (logs)."""
    raw = _no_fence(visible(text)).strip("\n")
    room = limit - 8  # the fences and their newlines
    if not tail:
        return f"```\n{mrkdwn(raw, room)}\n```"
    lines = raw.split("\n")
    kept: list[str] = []
    for line in reversed(lines):
        if units(escape("\n".join([line, *kept]))) + 2 > room:
            break
        kept.insert(0, line)
    if not kept:  # one huge last line: keep its end (escaping grows text 5x at most)
        end = lines[-1][-(room // 6) :]
        while end and _joins_previous(end[0]):
            end = end[1:]
        kept = [end]
        lines = [*lines, ""]  # something was dropped
    body = escape("\n".join(kept))
    if len(kept) < len(lines):
        body = ELLIPSIS + "\n" + body
    return f"```\n{body}\n```"


def link(url: str, label_mrkdwn: str) -> str:
    """A mrkdwn link with an already-escaped label; falls back to the label if `url` is unsafe."""
    safe = safe_url(url, LINK_URL_MAX)
    if not safe:
        return label_mrkdwn
    return f"<{escape(safe)}|{label_mrkdwn}>"


def safe_url(url: str, limit: int = 3000) -> str:
    """An http(s) URL that cannot break out of `<url|label>`, or "" if none can be made.

    It must parse with a plain host and no user info (bot.domain.urls.split_url), so that the
    host a reader is told is the host a browser opens; what a reader could not see or that
    would reformat the link is percent-encoded.
    """
    if split_url(url) is None:
        return ""
    cleaned = _URL_UNSAFE.sub(_percent, url)
    return cleaned if units(cleaned) <= limit else ""


# Outside printable ASCII (spaces, bidi controls, zero-width and non-ASCII characters), and what
# would end `<url|label>` or start code formatting: percent-encoded (UTF-8), as browsers send it.
_URL_UNSAFE = re.compile("[^!-~]|[`|<>]")


def _percent(match: re.Match[str]) -> str:
    return quote(match.group(), safe="", errors="replace")


def date_token(moment: datetime) -> str:
    """A Slack date token: readers see the time in their own time zone."""
    epoch = int(moment.timestamp())
    # The fallback (clients that cannot render the token) says UTC, so it must be in UTC: AWS
    # answers carry offsets (a CodeStar capture says +05:30).
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def duration(seconds: float) -> str:
    """Human units, two at most: 45s, 8m 52s, 1h 3m, 2d 4h."""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"
