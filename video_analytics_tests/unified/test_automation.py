"""The cross-platform tables follow the days their sources land on, not the catalogues' refreshes.

Evaluated as the `automation` sensor does, one tick at a time; an empty tick follows each request, as
between two sensor ticks (Dagster counts a request as handled on the tick after it).
"""

from __future__ import annotations

import dagster as dg
import pytest

from video_analytics.definitions import build_definitions
from video_analytics.settings import Settings

DAYS = ["2024-03-01", "2024-03-02"]


class Ticks:
    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, asset: str) -> None:
        self.defs, self.instance, self.asset, self.cursor = defs, instance, asset, None

    def land(self, asset: str, *days: str | None) -> None:
        for day in days:
            self.instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=day))

    def requested(self) -> set[str]:
        found = set()
        for _ in range(2):
            result = dg.evaluate_automation_conditions(
                defs=self.defs,
                instance=self.instance,
                asset_selection=dg.AssetSelection.assets(self.asset),
                cursor=self.cursor,
            )
            self.cursor = result.cursor
            found |= result.get_requested_partitions(dg.AssetKey(self.asset))
        return found


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(Settings())


def test_a_landed_source_day_recomputes_that_day_and_a_catalogue_refresh_does_not(defs):
    with dg.instance_for_test() as instance:
        ticks = Ticks(defs, instance, "video_daily_performance")
        assert ticks.requested() == set()
        ticks.land("agora_video_daily_stats", *DAYS)
        assert ticks.requested() == set(DAYS)  # older days too; the other sources may come later
        ticks.land("daily_video_metrics", DAYS[0])
        assert ticks.requested() == {DAYS[0]}  # a second source that day: recomputed with it
        ticks.land("video_identity", None)
        ticks.land("wistia_dim_media", None)
        assert ticks.requested() == set()  # not every day since the start date


def test_the_report_follows_the_conformed_days(defs):
    with dg.instance_for_test() as instance:
        ticks = Ticks(defs, instance, "video_performance_report")
        assert ticks.requested() == set()
        ticks.land("video_daily_performance", DAYS[1])
        assert DAYS[1] in ticks.requested()
