"""The HTML preview: every sample renders to a page that draws Slack's Block Kit, no text can
inject markup, and (when Debian's Chromium is installed) a real browser runs the page's script."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blocks.deploy_status import PROBLEM_LINES, PROBLEMS
from blocks.text import code_block, code_span, date_token, escape, link
from bot.domain.config import Config
from bot.domain.events import parse_payload
from bot.plan import plan
from bot.preview_html import mrkdwn, page
from tests import browser
from tests.conftest import SAMPLE_FILES, load_sample
from tests.scenes import SCENES

ALLOWED = {
    "b": set(),
    "i": set(),
    "s": set(),
    "code": set(),
    "pre": set(),
    "br": set(),
    "blockquote": set(),
    "span": {"class"},
    "time": {"data-epoch", "data-format"},
    "a": {"href", "target", "rel"},
}


class _Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(fragment: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser.tags


def _messages(sample: Path) -> list[dict[str, Any]]:
    events = parse_payload(load_sample(sample.name))
    return [dict(p.message) for p in plan(events, Config()) if p.message is not None]


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=[s.stem for s in SAMPLE_FILES])
def test_every_sample_renders_to_a_page(sample: Path) -> None:
    # GIVEN what deploybot would post for a sample
    messages = _messages(sample)
    # WHEN drawn as a page
    html = page(messages, title=sample.name)
    # THEN one article per message, every block type drawn, one script (ours)
    assert html.startswith("<!doctype html>")
    assert html.count('<article class="message">') == len(messages)
    assert "unsupported block" not in html
    assert html.count("<script>") == 1
    for message in messages:
        first = message["blocks"][0]["text"]["text"].split(" ", 1)[1]
        assert escape(first).replace("&amp;", "&")[:20] in html.replace("&amp;", "&")


def test_mrkdwn_is_drawn_as_slack_draws_it() -> None:
    text = "\n".join(
        [
            "*bold* _italic_ ~strike~ `code` and snake_case_name stay plain",
            f"{link('https://example.com/a?b=1&c=2', '*Release* notes')} <@U012ABC> <!here>",
            "<!subteam^S0PLATFORM|@platform> <#C0DEPLOYS|deployments> :white_check_mark: :nope:",
            date_token(datetime(2023, 12, 20, 11, 13, tzinfo=UTC)),
            "> quoted line",
        ]
    )
    html = mrkdwn(text + "\n" + code_block("SELECT 1 < 2 && 3 > 2", 200))
    assert "<b>bold</b> <i>italic</i> <s>strike</s> <code>code</code>" in html
    assert "snake_case_name" in html
    assert (
        '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">'
        "<b>Release</b> notes</a>"
    ) in html
    assert '<span class="mention">@U012ABC</span> <span class="mention">@here</span>' in html
    assert (
        '<span class="mention">@platform</span> <span class="mention">#deployments</span>' in html
    )
    assert "✅ :nope:" in html
    assert '<time data-epoch="1703070780" data-format="{date_short_pretty} at {time}">' in html
    assert "2023-12-20 11:13 UTC</time>" in html
    assert "<blockquote>quoted line</blockquote>" in html
    assert "<pre>SELECT 1 &lt; 2 &amp;&amp; 3 &gt; 2</pre>" in html


@given(st.text(max_size=300))
def test_no_text_can_inject_markup(untrusted: str) -> None:
    # GIVEN untrusted text escaped as deploybot escapes it, in every place it may appear
    text = "\n".join(
        [
            escape(untrusted),
            code_span(untrusted, 400),
            code_block(untrusted, 800),
            f"*{escape(untrusted)}*",
        ]
    )
    # WHEN drawn, THEN only the preview's own tags and attributes exist, and links are http(s)
    for tag, attrs in _tags(mrkdwn(text)):
        assert tag in ALLOWED, tag
        assert set(attrs) <= ALLOWED[tag], (tag, attrs)
        href = attrs.get("href")
        assert href is None or href.startswith(("http://", "https://", "mailto:"))


def test_a_link_that_is_not_http_is_not_a_link() -> None:
    html = mrkdwn("<javascript:alert(1)|click me> <https://ok.example|fine>")
    assert "javascript" not in html.split("click me")[0].split('href="')[-1]
    assert html.startswith("click me ")


def test_buttons_confirm_dialogs_threads_and_ephemeral_answers() -> None:
    scene = SCENES["rollback-confirm"]()
    html = scene.html()
    assert 'class="button danger" type="button" data-confirm="confirm-0"' in html
    assert '<dialog id="confirm-0" class="confirm"><h2>Roll back production?</h2>' in html
    assert '<button class="button danger" type="button">Roll back</button>' in html
    failure = SCENES["failure"]().html()
    assert '<div class="thread"><div class="count">1 reply</div>' in failure
    assert "Also sent to the channel" in failure
    assert "👁 Only visible to you" in SCENES["deploy-status"]().html()


@pytest.mark.parametrize("name", sorted(SCENES))
def test_every_screenshot_scene_renders(name: str) -> None:
    scene = SCENES[name]()
    html = scene.html()
    assert scene.posts
    assert "unsupported block" not in html
    for _tag, attrs in _tags(html.split("<main>")[1].split("</main>")[0]):
        href = attrs.get("href")
        assert href is None or href.startswith(("http://", "https://", "mailto:"))


# The first words of every answer that says AWS could not be read: a picture must not show one.
_AWS_TROUBLE = sorted(
    {t.split("{action}")[0].strip() for t, _fix in PROBLEMS.values()}
    | {t.split("{action}")[0].strip() for t in PROBLEM_LINES.values()}
    | {"AWS answered", "Expected parameters"}
)


@pytest.mark.parametrize("name", sorted(SCENES))
def test_no_screenshot_scene_shows_an_aws_error(name: str) -> None:
    # GIVEN a scene as scripts/screenshots.py draws it, WHEN its messages are rendered
    shown = json.dumps(SCENES[name]().posts, ensure_ascii=False)
    # THEN none of them says AWS failed (a stub that no longer matches deploybot's calls would)
    assert [words for words in _AWS_TROUBLE if words in shown] == []


@pytest.mark.skipif(
    not browser.available(),
    reason=f"no Chromium at {browser.CHROMIUM} (Debian: apt-get install chromium)",
)
def test_a_real_browser_runs_the_page(tmp_path: Path) -> None:
    # GIVEN one page with every sample's messages and every scene (one browser start)
    posts = [m for sample in SAMPLE_FILES for m in _messages(sample)]
    posts += [p for make in SCENES.values() for p in make().posts]
    target = tmp_path / "all.html"
    target.write_text(page(posts, title="all"), encoding="utf-8")
    # WHEN headless Chromium loads it
    dom = browser.dump_dom(target)
    # THEN the script ran to its end, and every date token reads in the reader's zone (UTC here)
    assert 'data-rendered="yes"' in dom
    assert dom.count('<article class="message">') == len(posts)
    times = re.findall(r'<time data-epoch="(\d+)"[^>]*>([^<]*)</time>', dom)
    assert times
    for _epoch, shown in times:
        assert not shown.endswith("UTC"), shown  # the fallback was replaced
    assert ">Dec 20, 2023 at 11:13 AM</time>" in dom  # 1703070803, the GitHub failure sample
