"""The release diff in a message: one line ("12 commits by @a, @b and 3 others since `abc1234` —
compare"), the first titles, "no changes" for a redeploy, and the words the rollback confirm
dialog and the approval request use. Pure; every git string escaped and cut (blocks/text.py).

Where it shows: the deployment message (`release_section`), the failure reply (`release_line`),
the rollback confirm dialog (`undo_text`), and a manual approval request (`release_section`,
for the approval messages to call).
"""

from __future__ import annotations

from collections.abc import Callable

from blocks.people import name_mrkdwn, person_mrkdwn, person_plain
from blocks.text import code_span, inline, link, mrkdwn, safe_url, units
from bot.domain.config import DEFAULT_COMMITS_SHOWN
from bot.domain.model import Change, Person, ReleaseDiff

COMMITS_SHOWN = DEFAULT_COMMITS_SHOWN  # titles a message lists unless the config says otherwise
NAMED_AUTHORS = 2  # then "and N others"
TITLE_MAX = 150
NOTE_MAX = 300
SECTION_MAX = 2900  # a section's text holds 3000; room for the "…and N more" line


def _count(diff: ReleaseDiff) -> str:
    count = diff.count or 0
    more = "" if diff.complete else "+"
    return f"{count}{more} commit{'' if count == 1 and diff.complete else 's'}"


def _authors(diff: ReleaseDiff, show: Callable[[Person], str] = person_mrkdwn) -> str:
    """ "@a, @b and 3 others" (or "a and b"): the first few, then how many more."""
    named = [show(p) for p in diff.authors[: NAMED_AUTHORS + 1]]
    total = max(diff.author_count, len(diff.authors))
    if total > NAMED_AUTHORS + 1:
        others = total - NAMED_AUTHORS
        return f"{', '.join(named[:NAMED_AUTHORS])} and {others} others"
    if len(named) > 1:
        return f"{', '.join(named[:-1])} and {named[-1]}"
    return named[0] if named else ""


def release_line(diff: ReleaseDiff, *, mention: bool = True) -> str:
    """The collapsed diff as mrkdwn: what changed since what was live, by whom, and the link.

    `mention=False` names the authors without mentioning them (where pinging them is the
    config's choice: the failure reply's failure_mentions = ["authors"]).
    """
    since = code_span(diff.base[:7], 20)
    tail = f" — {link(diff.compare_url, 'compare')}" if safe_url(diff.compare_url) else ""
    if diff.same:
        return f":repeat: *No changes*: {since} was live already (a redeploy)"
    if diff.count is None:
        return f":twisted_rightwards_arrows: *Changes* since {since}{tail}"
    if diff.count == 0 and diff.complete:
        return f":twisted_rightwards_arrows: *No new commits* since {since}{tail}"
    by = _authors(diff, person_mrkdwn if mention else name_mrkdwn)
    by = f" by {by}" if by else ""
    if diff.backwards:
        return f":rewind: *Takes out {_count(diff)}*{by}, back from {since}{tail}"
    return f":twisted_rightwards_arrows: *{_count(diff)}*{by} since {since}{tail}"


def _change_line(change: Change) -> str:
    sha = link(change.url, code_span(change.sha[:7], 20))
    line = f"• {sha} {inline(change.title or '(no message)', TITLE_MAX)}"
    if _known(change.author):
        line += " — " + person_mrkdwn(change.author)
    return line


def _known(person: Person) -> bool:
    return bool(person.slack_id or person.login or person.name or person.email)


def release_section(diff: ReleaseDiff | None, shown: int) -> str:
    """The diff line, why the list is missing (if it is), and the first `shown` titles."""
    if diff is None:
        return ""
    lines = [release_line(diff)]
    if diff.note:
        lines.append(":information_source: " + mrkdwn(" ".join(diff.note.split()), NOTE_MAX))
    if diff.same:
        return "\n".join(lines)
    used = sum(units(line) + 1 for line in lines)
    listed = 0
    for change in diff.changes[:shown]:
        line = _change_line(change)
        used += units(line) + 1
        if used > SECTION_MAX:
            break  # the rest is counted in "…and N more"
        lines.append(line)
        listed += 1
    left = (diff.count or 0) - listed
    if listed and left > 0:
        lines.append(f"…and {left}{'' if diff.complete else '+'} more")
    return "\n".join(lines)


def undo_text(diff: ReleaseDiff | None, target_sha: str) -> str:
    """For the rollback confirm dialog (plain text): "This undoes 12 commits by @a, @b and 3
    others." when rolling back to the revision that was live before this diff, else ""."""
    if (
        diff is None
        or diff.same
        or diff.backwards
        or not diff.count
        or not target_sha
        or diff.base != target_sha
    ):
        return ""
    by = _authors(diff, person_plain)
    return f"This undoes {_count(diff)}{f' by {by}' if by else ''}."
