"""Config keys of the ledger work: /deploy-status paging and refresh, the sweep."""

from __future__ import annotations

import pytest

from bot.domain.config import ConfigError, StatusSettings, SweepSettings, config_from_mapping


def test_status_and_sweep_keys_are_read_with_defaults() -> None:
    # GIVEN nothing configured THEN the defaults apply
    config = config_from_mapping({}, {})
    assert config.status == StatusSettings(page_size=20, fresh_seconds=60, backfill_seconds=20)
    assert config.sweep == SweepSettings(after_minutes=10, stuck_after_minutes=0, stuck_factor=3)
    # GIVEN each key set THEN each is taken
    config = config_from_mapping(
        {
            "status": {"pipelines": ["web"], "page_size": 10, "fresh_seconds": 0},
            "sweep": {"after_minutes": 5, "stuck_after_minutes": 90, "seconds": 10},
        },
        {},
    )
    assert (config.status.page_size, config.status.fresh_seconds) == (10, 0)
    assert config.watched_pipelines == ("web",)
    assert (config.sweep.after_minutes, config.sweep.stuck_after_minutes) == (5, 90)
    assert config.sweep.seconds == 10


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"status": {"page_size": 26}}, "status.page_size"),
        ({"status": {"page_size": True}}, "status.page_size"),
        ({"status": {"fresh_seconds": -1}}, "status.fresh_seconds"),
        ({"status": {"backfill_seconds": 60}}, "status.backfill_seconds"),
        ({"sweep": {"after_minutes": 0}}, "sweep.after_minutes"),
        ({"sweep": {"stuck_after_minutes": "1h"}}, "sweep.stuck_after_minutes"),
        ({"sweep": {"stuck_factor": 0.5}}, "sweep.stuck_factor"),
        ({"sweep": {"seconds": 30}}, "sweep.seconds"),
        ({"sweep": {"every": 5}}, "sweep.every"),
    ],
)
def test_bad_ledger_keys_are_named(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}:"):
        config_from_mapping(data, {})
