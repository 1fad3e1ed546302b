"""Production refuses weak secrets, and `ussd-app keys generate` makes good ones."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from ussd_app.cli import main
from ussd_app.config import ConfigError, Settings, fernet_key_problem, secret_problem
from ussd_app.crypto import Cipher, generate_secret

STRONG_TOKEN = "Vq3yH8kR0tLw5ZpB2nXc7JmS9dF4gA6eU1iO_-bTzYa"
STRONG_HASH_KEY = "pX7wE2rT9yU4iO1aS6dF3gH8jK5lZ0xC-_vBnMqWeRt"
FERNET_KEY = "x4Cj1wYBEgLCXvLZ0bKc4XoA8v0m8kq9bqJ2kXo1Jm4="

PRODUCTION = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgres://u@db/ussd",
    "REDIS_URL": "redis://cache:6379/0",
    "GATEWAY_TOKEN": STRONG_TOKEN,
    "DATA_KEYS": FERNET_KEY,
    "PHONE_HASH_KEY": STRONG_HASH_KEY,
    "SMS_BACKEND": "africastalking",
    "AT_USERNAME": "lesotho-app",
    "AT_API_KEY": "secret",
}


def test_strong_production_secrets_are_accepted() -> None:
    assert Settings.from_env(PRODUCTION).is_production


@pytest.mark.parametrize("var", ["GATEWAY_TOKEN", "PHONE_HASH_KEY"])
@pytest.mark.parametrize(
    ("weak", "why"),
    [
        ("t0ken", "shorter than 32"),
        ("k", "shorter than 32"),
        ("a" * 64, "different characters"),
        ("abababababababababababababababab", "different characters"),
        ("Lesotho2024!Lesotho2024!Lesotho2024!", "repeated"),
        ("abcdefghijklmnopqrstuvwxyz0123456789", "consecutive"),
        ("0123456789abcdef0123456789abcdef", "repeated"),
        ("eeaeeeeeeaaeaaeaeaaeeaeeeaikmoqsuw", "predictable"),
    ],
)
def test_production_refuses_weak_secrets(var: str, weak: str, why: str) -> None:
    with pytest.raises(ConfigError, match=var) as err:
        Settings.from_env({**PRODUCTION, var: weak})
    assert why in str(err.value) and "keys generate" in str(err.value)
    assert len(weak) < 8 or weak not in str(err.value)  # a secret is never echoed back


def test_development_keeps_accepting_short_secrets() -> None:
    assert Settings.from_env({"GATEWAY_TOKEN": "t0ken", "PHONE_HASH_KEY": "k"}).gateway_token


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("not-a-key", "base64"),
        (base64.urlsafe_b64encode(b"short").decode(), "not 32"),
        (base64.urlsafe_b64encode(bytes(32)).decode(), "not random"),
    ],
)
@pytest.mark.parametrize("env", [{}, PRODUCTION])
def test_data_keys_must_be_fernet_keys_everywhere(key: str, why: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="DATA_KEYS: key 2") as err:
        Settings.from_env({**env, "DATA_KEYS": f"{FERNET_KEY},{key}"})
    assert why in str(err.value) and key not in str(err.value)


def test_production_refuses_a_key_listed_twice() -> None:
    with pytest.raises(ConfigError, match="same key twice"):
        Settings.from_env({**PRODUCTION, "DATA_KEYS": f"{FERNET_KEY},{FERNET_KEY}"})


@pytest.mark.parametrize("make", [generate_secret, Cipher.generate_key])
def test_generated_values_always_pass(make: Callable[[], str]) -> None:
    values = {make() for _ in range(500)}
    assert len(values) == 500
    for value in values:
        assert secret_problem(value) is None and (
            make is generate_secret or fernet_key_problem(value) is None
        )


def test_keys_generate_prints_a_fresh_value_for_each_secret() -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["keys", "generate"])
    second = runner.invoke(main, ["keys", "generate"])
    assert first.exit_code == 0, first.output
    values = dict(line.split("=", 1) for line in first.stdout.splitlines())
    again = dict(line.split("=", 1) for line in second.stdout.splitlines())
    assert set(values) == {"GATEWAY_TOKEN", "PHONE_HASH_KEY", "DATA_KEYS"}
    assert all(values[k] != again[k] for k in values)
    assert "keys rotate" in first.stderr
    env = {**PRODUCTION, **values}
    settings = Settings.from_env(env)  # what it prints is what production accepts
    assert Cipher(settings.data_keys).decrypt(Cipher(settings.data_keys).encrypt("x")) == "x"


def test_keys_generate_can_print_one_value() -> None:
    result = CliRunner().invoke(main, ["keys", "generate", "DATA_KEYS"])
    assert result.exit_code == 0
    assert [line.split("=", 1)[0] for line in result.stdout.splitlines()] == ["DATA_KEYS"]


def test_log_format_defaults_to_json_in_production_only() -> None:
    assert Settings.from_env(PRODUCTION).resolved_log_format == "json"
    assert Settings.from_env({}).resolved_log_format == "console"
    assert Settings.from_env({"LOG_FORMAT": "json"}).resolved_log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"})
