"""Load the configuration: the TOML file and the process environment.

The only module that reads the environment; bot/domain/config.py validates what it reads.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.domain.config import Config, ConfigError, config_from_mapping


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the TOML file at `path` (else $DEPLOYBOT_CONFIG, else defaults) plus the environment."""
    chosen = path if path is not None else os.environ.get("DEPLOYBOT_CONFIG") or None
    data: Mapping[str, Any] = {}
    if chosen is not None:
        try:
            with Path(chosen).open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {chosen}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {chosen} is not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:  # TOML files are UTF-8
            raise ConfigError(
                f"config file {chosen} is not UTF-8 "
                f"(byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
            ) from None
    return config_from_mapping(data, os.environ)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level() -> int:
    """The log level: POWERTOOLS_LOG_LEVEL, else LOG_LEVEL (Powertools' names), else INFO."""
    raw = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
    name = raw.strip().upper()
    if name not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: {raw!r} is not one of {', '.join(LOG_LEVELS)}")
    level: int = getattr(logging, name)
    return level
