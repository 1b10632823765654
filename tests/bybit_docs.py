"""Bybit's own docs examples, one JSON file per endpoint in ``tests/fixtures/bybit_docs``.

Each file holds ``endpoint``, ``source`` (docs repository, file path, commit), and the docs' ``request``
and ``response`` examples copied as data, quirks included (e.g. ``"msgType": ""`` in ``listpage_v1``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "bybit_docs"


def docs_example(name: str) -> dict[str, Any]:
    """The example file ``name`` (its stem, e.g. ``chat_message_listpage_v1``) as parsed JSON."""
    example: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return example
