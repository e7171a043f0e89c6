"""Wistia assets end to end: real client, real HTTP, the simulator, the Parquet lake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from video_analytics.wistia import assets as wa
from video_analytics.wistia.client import RETENTION_DAYS

from .conftest import TODAY, YESTERDAY, lake_resources, range_tags, variant

#: A week: every claim below holds per day or per media, so more days only cost time (the 30-day
#: sandbox backfill's speed is `benchmarks/wistia_backfill.py`'s).
DAYS = 7
START = YESTERDAY - timedelta(days=DAYS - 1)
# The lake's folders are the original's S3 prefixes, not the asset names.
PARTITIONED = ("fact_events", "fact_engagements", "fact_engagements_byday")
UNPARTITIONED = ("dim_media", "fact_engagement_graph", "dim_visitors")


def run(res, start=START, end=YESTERDAY, selection=None, raise_on_error=True):
    return dg.materialize(
        wa.assets,
        selection=selection,
        resources=res,
        tags=range_tags(start, end),
        raise_on_error=raise_on_error,
    )


def read(lake: Path, table: str) -> pl.DataFrame:
    files = sorted((lake / table).glob("date=*/part-0.parquet"))
    return pl.read_parquet(files) if files else pl.read_parquet(lake / table / "part-0.parquet")


@pytest.fixture(scope="module")
def backfill(wistia_sim, tmp_path_factory):
    """A backfill of every Wistia asset over DAYS days in one run."""
    from video_analytics.wistia.resources import WistiaResource

    sim, url = wistia_sim
    env = sim.env(url)
    wistia = WistiaResource(
        api_token=env["WISTIA_API_TOKEN"], base_url=env["WISTIA_BASE_URL"], requests_per_minute=0
    )
    lake = tmp_path_factory.mktemp("lake")
    sim.stats.reset()
    result = run(lake_resources(wistia, str(lake)))
    assert result.success
    return lake, result, sim.stats.snapshot()


def test_a_backfill_is_one_run_with_one_file_per_day(backfill):
    lake, result, stats = backfill
    assert len(result.get_asset_materialization_events()) == 3 * DAYS + 3
    assert sorted(p.name for p in lake.iterdir()) == sorted((*PARTITIONED, *UNPARTITIONED))
    for table in PARTITIONED:
        assert len(list((lake / table).glob("date=*/part-0.parquet"))) == DAYS
    # One by_date and one engagement call per media, no per-day fan-out; the snapshot for yesterday.
    assert stats["requests"]["stats.by_date"] == 130
    assert stats["requests"]["stats.engagement"] == 130
    assert stats["requests"]["stats.media"] == 130


def test_the_tables_hold_exactly_the_simulators_numbers(backfill, sim):
    lake, _, _ = backfill
    media = read(lake, "dim_media")
    assert media.height == 130 and media["archived"].sum() == sum(
        m.record["archived"] for m in sim.world.media
    )
    events = read(lake, "fact_events")
    expected = [e for d in range(DAYS) for e in sim.world.events((START + timedelta(days=d)).toordinal())]
    assert events.height == len(expected) and events["event_key"].n_unique() == len(expected)
    assert events["lat"].null_count() == sum(e["lat"] is None for e in expected) > 0
    assert not events.filter(pl.col("lat") == 0.0).height
    byday = read(lake, "fact_engagements_byday")
    days = [(START + timedelta(days=d)).toordinal() for d in range(DAYS)]
    plays = sum(int(sim.world.day(day)["plays"].sum()) for day in days)
    assert byday["play_count"].sum() == plays == events.height  # one event per play
    visitors = read(lake, "dim_visitors")
    assert visitors.height == events["visitor_key"].n_unique() == visitors["visitor_id"].n_unique()
    graph = read(lake, "fact_engagement_graph")
    assert graph.height == 130 and graph["engagement"].is_between(0, 1).all()


def test_fact_engagements_are_the_cumulative_stats_and_the_live_snapshot_for_yesterday(backfill, sim):
    lake, _, _ = backfill
    engagements = read(lake, "fact_engagements")
    media = max(sim.world.media, key=lambda m: m.popularity)
    key = media.record["hashed_id"]
    history = sim.world.by_date(media, START - timedelta(days=5000), YESTERDAY)
    last = engagements.filter(pl.col("media_id") == key, pl.col("date") == YESTERDAY).row(0, named=True)
    assert last["play_count"] == sum(r["play_count"] for r in history)
    assert last["engagement"] == round(media.engagement, 4)
    earlier = engagements.filter(pl.col("date") < YESTERDAY)
    assert earlier["engagement"].null_count() == earlier.height
    assert engagements["play_rate"].is_between(0, 1).all()


def test_checks_pass_on_good_data(backfill):
    _, result, _ = backfill
    evaluations = result.get_asset_check_evaluations()
    # the two dimensions' checks once; the six checks of the daily facts once per day of the backfill
    assert len([e for e in evaluations if e.partition is None]) == 2
    days = {(START + timedelta(days=d)).isoformat() for d in range(DAYS)}
    per_day = [e for e in evaluations if e.partition is not None]
    assert {e.partition for e in per_day} == days and len(per_day) == 6 * DAYS
    assert all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]


def test_re_running_the_backfill_gives_identical_tables(backfill, wistia):
    lake, _, _ = backfill
    before = {table: read(lake, table) for table in (*PARTITIONED, *UNPARTITIONED)}
    files = sorted(str(p.relative_to(lake)) for p in lake.rglob("*.parquet"))
    assert run(lake_resources(wistia, str(lake))).success
    assert sorted(str(p.relative_to(lake)) for p in lake.rglob("*.parquet")) == files
    for table, frame in before.items():
        assert read(lake, table).equals(frame), table


@pytest.mark.parametrize("status", [429, 503])
def test_throttled_runs_still_complete(sim, wistia, tmp_path, status):
    sim.set_knobs({"throttle_status": status, "retry_after": "0.05"})
    sim.faults.update(throttle_next=3, retry_after_header="0.05")
    day = YESTERDAY - timedelta(days=1)
    result = run(lake_resources(wistia, str(tmp_path)), day, day, selection=["wistia_dim_media"])
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["api_throttled"].value == 3 and metadata["api_retries"].value == 3


def test_a_wrong_token_fails_the_run_with_a_clear_error(wistia, tmp_path):
    bad = variant(wistia, api_token="not-the-token")
    result = run(lake_resources(bad, str(tmp_path)), selection=["wistia_dim_media"], raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    text = failure.message + "".join(c.message for c in [failure.cause] if c)
    assert "HTTP 401" in text and "Invalid credentials." in text
    assert "not-the-token" not in text
    assert not (tmp_path / "dim_media").exists()


def test_events_older_than_the_retention_fail_clearly(wistia, tmp_path):
    (tmp_path / "dim_media").mkdir()
    pl.DataFrame({"hashed_id": ["x"], "created": ["2020-01-01"]}).write_parquet(
        tmp_path / "dim_media" / "part-0.parquet"
    )
    old = TODAY - timedelta(days=RETENTION_DAYS + 3)
    result = run(
        lake_resources(wistia, str(tmp_path)), old, old, ["wistia_fact_events"], raise_on_error=False
    )
    assert not result.success
    assert (
        "keeps events for two years only"
        in result.get_step_failure_events()[0].step_failure_data.error.message
    )


def test_nightly_schedule_requests_the_last_two_days():
    when = datetime(2024, 5, 10, 4, 30, tzinfo=UTC)
    request = wa.wistia_nightly_schedule(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.tags["dagster/asset_partition_range_start"] == "2024-05-08"
    assert request.tags["dagster/asset_partition_range_end"] == "2024-05-09"
    assert request.run_key == "wistia-2024-05-09"
