"""blocks/text.py: the pieces every message is made of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from blocks.text import date_token


def test_a_date_tokens_fallback_is_in_utc_whatever_offset_aws_gave() -> None:
    # GIVEN a time AWS gave with an offset (a CodeStar capture says +05:30)
    india = datetime(2026, 9, 6, 19, 53, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    # WHEN it becomes a Slack date token
    token = date_token(india)
    # THEN the epoch is the same instant, and the fallback says the UTC time it claims
    assert token.startswith(f"<!date^{int(india.timestamp())}^")
    assert token.endswith("|2026-09-06 14:23 UTC>")
    assert date_token(india.astimezone(UTC)) == token
