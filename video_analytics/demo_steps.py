"""What the demo runs: each source lists its steps in its own `definitions.py`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoStep:
    """Assets materialized together in one run; partitioned steps cover the whole demo range at once."""

    title: str
    assets: tuple[str, ...]
    partitioned: bool
