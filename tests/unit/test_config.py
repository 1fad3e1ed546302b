"""Settings are read once, typed, and production refuses to start without its secrets."""

from __future__ import annotations

import pytest

from ussd_app.config import ConfigError, Settings

PRODUCTION = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgres://u@db/ussd",
    "REDIS_URL": "redis://cache:6379/0",
    "GATEWAY_TOKEN": "Vq3yH8kR0tLw5ZpB2nXc7JmS9dF4gA6eU1iO_-bTzYa",  # see test_secrets.py
    "DATA_KEYS": "x4Cj1wYBEgLCXvLZ0bKc4XoA8v0m8kq9bqJ2kXo1Jm4=",
    "PHONE_HASH_KEY": "pX7wE2rT9yU4iO1aS6dF3gH8jK5lZ0xC-_vBnMqWeRt",
    "SMS_BACKEND": "africastalking",
    "AT_USERNAME": "lesotho-app",
    "AT_API_KEY": "secret",
}


def test_no_environment_means_embedded_defaults() -> None:
    s = Settings.from_env({})
    assert s.app_env == "development"
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.redis_url == "" and s.sms_backend == "console"
    assert s.screen_budget == 160 and s.emergency_number == "112"


def test_a_complete_production_environment_is_accepted() -> None:
    s = Settings.from_env(PRODUCTION)
    assert s.is_production
    assert s.resolved_database_url == "postgresql+psycopg://u@db/ussd"


@pytest.mark.parametrize(
    "missing",
    ["DATABASE_URL", "REDIS_URL", "GATEWAY_TOKEN", "DATA_KEYS", "PHONE_HASH_KEY", "AT_API_KEY"],
)
def test_production_refuses_to_start_without_a_secret(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(env)


def test_production_cannot_print_sms_to_the_console() -> None:
    with pytest.raises(ConfigError, match="console"):
        Settings.from_env({**PRODUCTION, "SMS_BACKEND": "console"})


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("APP_ENV", "staging", "APP_ENV"),
        ("SCREEN_BUDGET", "lots", "SCREEN_BUDGET"),
        ("SCREEN_BUDGET", "500", "SCREEN_BUDGET"),
        ("SMS_BACKEND", "carrier-pigeon", "SMS_BACKEND"),
        ("EMBEDDED_WORKER", "perhaps", "yes/no"),
        ("SMS_RETRY_DELAYS", "10,soon", "SMS_RETRY_DELAYS"),
        ("STATS_K_REPORTS", "1", "STATS_K_REPORTS"),
        ("STATS_K_REPORTS", "eleven", "STATS_K_REPORTS"),
        ("STATS_K_REGISTRATIONS", "12", "STATS_K_REGISTRATIONS"),  # above the reports' 11
    ],
)
def test_bad_values_are_named(var: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({var: value})


def test_dev_secrets_are_generated_once_and_kept(tmp_path: object) -> None:
    s = Settings(instance_dir=str(tmp_path)).with_dev_secrets()
    again = Settings(instance_dir=str(tmp_path)).with_dev_secrets()
    assert s.data_keys == again.data_keys and s.phone_hash_key == again.phone_hash_key
    assert s.data_keys and s.phone_hash_key


def test_every_limit_is_a_setting_with_a_safe_default() -> None:
    settings = Settings.from_env({"REPORT_LIMIT": "3/hour", "WEBHOOK_ADDRESS_LIMIT": "60/minute"})
    assert settings.rate_limits["reports"] == "3/hour"
    assert settings.rate_limits["webhook_address"] == "60/minute"
    defaults = Settings.from_env({}).rate_limits
    assert defaults["reports"] == "5 per hour" and defaults["ussd_starts"] == "40 per hour"


@pytest.mark.parametrize("value", ["lots", "0 per hour", "5 per hour; 10 per day"])
def test_a_malformed_limit_stops_the_start_naming_its_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="USSD_START_LIMIT"):
        Settings.from_env({"USSD_START_LIMIT": value})
