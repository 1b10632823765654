"""``python -m bridge.healthcheck``: the Docker ``HEALTHCHECK``. Asks ``/healthz`` when ``METRICS_PORT`` is set.

Exit code 0 when the bridge says it is healthy, or when the endpoint is off (nothing to ask); 1 otherwise,
with the reason on stdout (``docker inspect`` shows it).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from bridge.config import load_settings
from bridge.errors import ConfigError

TIMEOUT = 4.0  # seconds; Docker's own timeout for the check is 5
WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def healthz_url(host: str, port: int) -> str:
    """Where the endpoint answers from inside its own host: loopback when it listens on every address."""
    host = "127.0.0.1" if host in WILDCARDS else host
    return f"http://[{host}]:{port}/healthz" if ":" in host else f"http://{host}:{port}/healthz"


def main() -> int:
    """Check once; the exit code for Docker."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"unhealthy: {exc}")
        return 1
    if settings.metrics_port is None:
        return 0
    try:
        with urllib.request.urlopen(healthz_url(settings.metrics_host, settings.metrics_port), timeout=TIMEOUT):
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {exc.code} {exc.read().decode(errors='replace')}")
    except OSError as exc:
        print(f"unhealthy: no answer ({exc})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
