"""Settings: errors name the variable, never its value; chat ids and hosts."""

from __future__ import annotations

import pytest

from bridge.config import load_settings
from bridge.errors import ConfigError


def test_config_errors_name_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL", "soon-secret-ish")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert "POLL_INTERVAL" in str(err.value) and "soon-secret-ish" not in str(err.value)


def test_missing_credentials_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    settings = load_settings(_env_file=None)
    with pytest.raises(ConfigError) as err:
        settings.require_credentials()
    assert "TELEGRAM_CHAT_ID" in str(err.value) and "BYBIT_API_SECRET" in str(err.value)
    assert "ABCDEFGHIJ" not in str(err.value)


def test_allowed_chats_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_ALLOWED_CHAT_IDS", "-1001, 42,")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "-100")
    monkeypatch.setenv("BYBIT_TESTNET", "true")
    settings = load_settings(_env_file=None)
    assert settings.served_chat_ids == {-1001, 42, -100}
    assert settings.bybit_url == "https://api-testnet.bybit.com"
    monkeypatch.setenv("BYBIT_BASE_URL", "http://127.0.0.1:9/")
    assert load_settings(_env_file=None).bybit_url == "http://127.0.0.1:9"


def test_media_hosts_are_a_list_of_http_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_MEDIA_HOSTS", "cdn.example.com, http://127.0.0.1:9,")
    hosts = load_settings(_env_file=None).media_hosts
    assert hosts.refusal("https://api2.bybit.com/a.png") is None  # BYBIT_MEDIA_URL's host
    assert hosts.refusal("https://cdn.example.com/a.png") is None
    assert hosts.refusal("http://127.0.0.1:9/a.png") is None
    assert hosts.refusal("http://127.0.0.1:10/a.png") is not None
    monkeypatch.setenv("BYBIT_MEDIA_HOSTS", "file:///secret-path")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert "BYBIT_MEDIA_HOSTS" in str(err.value) and "secret-path" not in str(err.value)


@pytest.mark.parametrize("variable", ["BYBIT_BASE_URL", "BYBIT_MEDIA_URL", "TELEGRAM_API_URL"])
@pytest.mark.parametrize("value", ["api.bybit-secret-host.com", "file:///secret-dir", "ftp://secret-host", "http://"])
def test_a_url_that_is_not_http_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert f"{variable}: Value error, not an http(s) URL" in str(err.value)
    assert "secret" not in str(err.value)
