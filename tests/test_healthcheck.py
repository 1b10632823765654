"""``python -m bridge.healthcheck`` without a bridge: off, nobody answering, bad settings; where it asks.

With a running bridge (healthy and not) it is exercised in ``tests/test_metrics.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.healthcheck import healthz_url, main
from tests.harness import free_port


@pytest.fixture(autouse=True)
def no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run where no ``.env`` lies, with no metrics setting in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("METRICS_PORT", raising=False)
    monkeypatch.delenv("METRICS_HOST", raising=False)


def test_passes_when_the_endpoint_is_off() -> None:
    assert main() == 0


def test_fails_when_nobody_answers(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("METRICS_PORT", str(free_port()))
    assert main() == 1
    assert capsys.readouterr().out.startswith("unhealthy: no answer")


def test_fails_on_settings_that_do_not_load(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METRICS_PORT", "not-a-port")
    assert main() == 1
    assert "METRICS_PORT" in capsys.readouterr().out


def test_it_asks_loopback_when_the_endpoint_listens_everywhere() -> None:
    assert healthz_url("0.0.0.0", 9464) == "http://127.0.0.1:9464/healthz"
    assert healthz_url("::", 9464) == "http://127.0.0.1:9464/healthz"
    assert healthz_url("::1", 9464) == "http://[::1]:9464/healthz"
    assert healthz_url("10.0.0.5", 9464) == "http://10.0.0.5:9464/healthz"
