"""Settings come from DAOGOU_* variables and an optional TOML file, with clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, describe


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None and settings.catalog is None
    assert settings.currency == "CNY" and settings.results == 5


def test_environment_values_are_parsed() -> None:
    settings = Settings.from_env({
        "REDIS_URL": "redis://127.0.0.1:6379/2", "DAOGOU_CURRENCY": "usd",
        "DAOGOU_SESSION_TTL": "3600", "DAOGOU_DEFAULT_LANG": "ZH", "UNRELATED": "x",
    })
    assert settings.redis_url == "redis://127.0.0.1:6379/2"
    assert settings.currency == "USD" and settings.session_ttl == 3600 and settings.default_lang == "zh"


@pytest.mark.parametrize(("var", "value", "expected"), [
    ("DAOGOU_SESSION_TTL", "soon", "DAOGOU_SESSION_TTL must be whole seconds > 0, got 'soon'"),
    ("DAOGOU_SESSION_TTL", "-5", "DAOGOU_SESSION_TTL must be whole seconds > 0"),
    ("DAOGOU_DEFAULT_LANG", "fr", "DAOGOU_DEFAULT_LANG must be zh or en"),
    ("DAOGOU_CURRENCY", "yuan", "DAOGOU_CURRENCY must be a 3-letter currency code"),
    ("DAOGOU_RESULTS", "50", "DAOGOU_RESULTS must be a whole number from 1 to 10"),
])
def test_invalid_values_name_the_variable(var: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env({var: value})


def test_config_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "daogou.toml"
    config.write_text('currency = "EUR"\nsession_ttl = 60\n', encoding="utf-8")
    settings = Settings.from_env({"DAOGOU_CONFIG": str(config), "DAOGOU_SESSION_TTL": "90"})
    assert settings.currency == "EUR" and settings.session_ttl == 90


def test_config_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("currency = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.from_env({"DAOGOU_CONFIG": str(bad)})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting.*colour"):
        Settings.from_env({"DAOGOU_CONFIG": str(unknown)})
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_env({"DAOGOU_CONFIG": str(tmp_path / "missing.toml")})


def test_settings_are_frozen_and_all_described() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.currency = "USD"  # type: ignore[misc]
    described = {var for var, *_ in describe()}
    assert "REDIS_URL" in described and "DAOGOU_SESSION_TTL" in described
    assert len(described) == len(dataclasses.fields(Settings))
