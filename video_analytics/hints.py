"""Sentences that tell a user exactly where to change something: the run config path and the UI place.

Every "set X" in an error message should come from here, so that each one names the config path a
schedule, sensor or script would use *and* the place in the Dagster UI where a person types it.
"""

from __future__ import annotations


def launchpad_hint(asset: str, field: str, value: str) -> str:
    """Where to set one field of an asset's run config (`ops.<asset>.config.<field>`).

    In the UI the run config of a materialization is edited in the launchpad: asset page, the menu
    beside "Materialize", "Open launchpad" (or shift-click "Materialize"); the same config applies to a
    partition backfill launched from there.
    """
    return (
        f"set {field}: {value} in the run config at ops.{asset}.config.{field} "
        f"(Dagster UI: asset {asset} > the arrow beside Materialize > Open launchpad, then add "
        f"`ops: {{{asset}: {{config: {{{field}: {value}}}}}}}`)"
    )
