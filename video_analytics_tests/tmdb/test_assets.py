"""TMDB assets end to end: real client, real HTTP, the simulator's clock, the Parquet lake, DuckDB views."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from video_analytics.sandbox import registry
from video_analytics.sandbox.demo_steps import run_step
from video_analytics.sandbox.tmdb.demo import HISTORY_DAYS
from video_analytics.settings import Settings
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.storage.warehouse import run_sql
from video_analytics.tmdb import assets as ta
from video_analytics.tmdb import definitions as tdefs
from video_analytics.tmdb import transforms
from video_analytics.tmdb.resources import TMDBResource, tmdb_resource
from video_analytics.warehouse.assets import build_duckdb_warehouse
from video_analytics.warehouse.views import registered_views
from video_analytics_tests.tmdb.conftest import TODAY, make_resource

#: The original pipeline's nine analytics views, by the names its users query.
ORIGINAL_VIEWS = (
    "v_latest_popularity_metrics",
    "v_popularity_7d_moving_average",
    "v_popularity_wow_comparison",
    "v_top_gaining_movies",
    "v_top_declining_movies",
    "v_vote_velocity_metrics",
    "v_viral_coefficient_scores",
    "v_top_viral_movies",
    "v_emerging_viral_trends",
)

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
TRACKED = 60
CONFIG = {
    "ops": {
        "tmdb_movies": {"config": {"initial_movies": TRACKED}},
        "tmdb_snapshots": {"config": {"list_movies": TRACKED}},
    }
}


def run(lake: Path, selection: list[str], start: str | None = None, end: str | None = None, **kwargs):
    resources = {"tmdb": kwargs.pop("tmdb"), ta.IO_MANAGER_KEY: ParquetLakeIOManager(root=str(lake))}
    ops = {k: v for k, v in CONFIG["ops"].items() if k in selection}
    return dg.materialize(
        ta.assets,
        selection=selection,
        resources=resources,
        run_config=kwargs.pop("run_config", {"ops": ops}),
        tags=dict(zip(RANGE, (start, end or start), strict=True)) if start else {},
        **kwargs,
    )


def read(lake: Path, table: str) -> pl.DataFrame:
    files = sorted((lake / table).glob("date=*/part-0.parquet")) or [lake / table / "part-0.parquet"]
    return pl.read_parquet(files)


def world_state(sim, movie_id: int, day: date) -> tuple[float, int, float]:
    state = sim.world.state(sim.world.index[movie_id], day)
    return state["popularity"], state["vote_count"], state["vote_average"]


@pytest.fixture(scope="module")
def lake(sim, tmp_path_factory):
    """Movies, 22 days of snapshots (one run) and 8 days of metrics."""
    root = tmp_path_factory.mktemp("tmdb_lake")
    assert run(root, ["tmdb_movies"], tmdb=make_resource(sim)).success
    assert run(root, ["tmdb_snapshots"], "2024-02-08", "2024-02-29", tmdb=make_resource(sim)).success
    assert run(root, ["tmdb_movie_metrics"], "2024-02-22", "2024-02-29", tmdb=make_resource(sim)).success
    return root


def test_tracked_movies_are_the_top_n_plus_the_changes_feed(sim, lake):
    movies = read(lake, "tmdb_movies")
    top = [int(sim.world.ids[i]) for i in sim.world.ranking(TODAY)[:TRACKED]]
    changed = set(sim.world.changed_ids(TODAY, TODAY)) - set(top)
    assert movies["movie_id"].n_unique() == movies.height == TRACKED + len(changed)
    assert set(movies.filter(pl.col("tracked_reason") == "most_popular")["movie_id"]) == set(top)
    assert set(movies.filter(pl.col("tracked_reason") == "changes_feed")["movie_id"]) == changed
    first = movies.filter(pl.col("popularity_rank") == 1).row(0, named=True)
    meta = sim.world.details[sim.world.index[first["movie_id"]]]
    assert first["title"] == meta["title"] and first["budget"] == meta["budget"]
    assert first["genres"] == [g["name"] for g in meta["genres"]]


def test_snapshots_replay_each_past_day_exactly(sim, lake):
    snaps = read(lake, "tmdb_snapshots")
    assert snaps["snapshot_date"].n_unique() == 22
    assert snaps.select("movie_id", "snapshot_date").n_unique() == snaps.height
    for day in (date(2024, 2, 8), date(2024, 2, 20), date(2024, 2, 29)):
        rows = snaps.filter(pl.col("snapshot_date") == day)
        listed = rows.filter(pl.col("source") == "list")
        expected_top = {int(sim.world.ids[i]) for i in sim.world.ranking(day)[:TRACKED]}
        assert set(listed["movie_id"]) == expected_top
        details = set(rows.filter(pl.col("source") == "details")["movie_id"])
        assert details == set(sim.world.changed_ids(day, day)) - expected_top
        for row in rows.sample(10, seed=1).iter_rows(named=True):
            assert (row["popularity"], row["vote_count"], row["vote_average"]) == world_state(
                sim, row["movie_id"], day
            )


def test_rerunning_a_partition_replaces_it_identically(sim, lake, tmp_path):
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    before = read(copy, "tmdb_snapshots").drop("ingestion_timestamp").sort("snapshot_date", "movie_id")
    assert run(copy, ["tmdb_snapshots"], "2024-02-20", tmdb=make_resource(sim)).success
    assert run(copy, ["tmdb_movie_metrics"], "2024-02-25", tmdb=make_resource(sim)).success
    after = read(copy, "tmdb_snapshots").drop("ingestion_timestamp").sort("snapshot_date", "movie_id")
    assert after.equals(before)
    assert (
        read(copy, "tmdb_movie_metrics")
        .sort("snapshot_date", "movie_id")
        .equals(read(lake, "tmdb_movie_metrics").sort("snapshot_date", "movie_id"))
    )


def test_metrics_equal_the_transform_over_the_lake(lake):
    metrics = read(lake, "tmdb_movie_metrics").sort("snapshot_date", "movie_id")
    days = [date(2024, 2, 22) + timedelta(days=i) for i in range(8)]
    assert metrics.equals(transforms.movie_metrics(read(lake, "tmdb_snapshots"), days))
    assert metrics["viral_coefficient"].null_count() < metrics.height / 4  # lags exist: the defect is fixed
    assert set(metrics["trend_category"].drop_nulls()) == set(transforms.TREND_CATEGORIES)


def test_a_missing_snapshot_day_gives_null_lags(sim, lake, tmp_path):
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    shutil.rmtree(copy / "tmdb_snapshots" / "date=2024-02-21")
    assert run(copy, ["tmdb_movie_metrics"], "2024-02-22", tmdb=make_resource(sim)).success
    day = read(copy, "tmdb_movie_metrics").filter(pl.col("snapshot_date") == date(2024, 2, 22))
    assert day["popularity_change_1d"].null_count() == day.height
    assert day["popularity_7d_ma"].null_count() == day.height
    assert day["viral_coefficient"].null_count() < day.height  # the 7-day lag (02-15) is still there
    shutil.rmtree(copy / "tmdb_snapshots" / "date=2024-02-22")
    with pytest.raises(dg.Failure, match="tmdb_snapshots has no rows for 2024-02-22"):
        run(copy, ["tmdb_movie_metrics"], "2024-02-22", tmdb=make_resource(sim))


def test_production_refuses_a_past_day_before_any_request(sim, lake, tmp_path):
    shutil.copytree(lake, tmp_path / "lake")
    sim.stats.reset()
    production = make_resource(sim, sandbox_clock=False)
    with pytest.raises(Exception, match="TMDB serves only current popularity") as failure:
        run(tmp_path / "lake", ["tmdb_snapshots"], "2024-02-20", tmdb=production)
    assert "sandbox profile" in str(failure.value)
    assert sim.stats.snapshot()["requests"] == {}
    today = date.today()
    assert production.as_of(today - timedelta(days=1), today) is None  # yesterday: the present is served


def test_weekly_refresh_snapshots_every_tracked_movie(sim, lake, tmp_path):
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    config = {"ops": {"tmdb_snapshots": {"config": {"list_movies": 20, "refresh_all_tracked": True}}}}
    assert run(copy, ["tmdb_snapshots"], "2024-02-29", tmdb=make_resource(sim), run_config=config).success
    day = read(copy, "tmdb_snapshots").filter(pl.col("snapshot_date") == date(2024, 2, 29))
    tracked = set(read(lake, "tmdb_movies")["movie_id"])
    assert tracked <= set(day["movie_id"]) and day.filter(pl.col("source") == "list").height == 20


def test_throttling_during_a_run_is_survived_and_reported(sim, tmp_path, lake):
    shutil.copytree(lake, tmp_path / "lake")
    sim.faults.update(throttle_next=3, retry_after_header="0.05")
    result = run(tmp_path / "lake", ["tmdb_snapshots"], "2024-02-29", tmdb=make_resource(sim))
    event = result.get_asset_materialization_events()[0].materialization
    assert event.metadata["api_throttled"].value == 3 and event.metadata["api_retries"].value == 3


def build_views(lake: Path, db: str) -> None:
    """The DuckDB warehouse as its asset builds it: lake views plus the SQL files' views."""
    build_duckdb_warehouse(str(lake), db)


def test_every_view_returns_rows(lake, tmp_path):
    db = str(tmp_path / "warehouse.duckdb")
    build_views(lake, db)
    for view in ORIGINAL_VIEWS:
        assert run_sql(db, f"SELECT count(*) AS n FROM {view}")["n"].item() > 0, view
    top = run_sql(db, "SELECT * FROM v_top_viral_movies ORDER BY viral_rank LIMIT 1").row(0, named=True)
    latest = run_sql(
        db,
        "SELECT max(viral_coefficient) AS c FROM tmdb_movie_metrics WHERE snapshot_date = DATE '2024-02-29'",
    )
    assert top["viral_coefficient"] == latest["c"].item() and top["title"]
    emerging = run_sql(db, "SELECT * FROM v_emerging_viral_trends")
    assert (emerging["vote_acceleration_7d"] > 0).all() and (emerging["vote_velocity_7d"] >= 10).all()
    gaining = run_sql(db, "SELECT * FROM v_top_gaining_movies")
    assert (gaining["popularity_pct_change_7d"] > 0).all() and gaining["gain_rank"].is_sorted()


def test_every_tmdb_view_is_written_once_in_the_warehouse_sql():
    names = [v.name for v in registered_views()]
    assert set(ORIGINAL_VIEWS) <= set(names)
    assert len(names) == len(set(names))


def test_demo_steps_materialize_tmdb_and_its_views_return_rows(sim, tmp_path, monkeypatch):
    monkeypatch.setenv("TMDB_BASE_URL", sim.base_url)
    monkeypatch.setenv("TMDB_API_KEY", sim.api_key)
    monkeypatch.delenv("TMDB_READ_ACCESS_TOKEN", raising=False)
    settings = Settings.from_env(profile="sandbox", data_dir=str(tmp_path))
    defs = dg.Definitions.merge(
        tdefs.build(settings),
        dg.Definitions(resources={"io_manager": ParquetLakeIOManager(root=str(tmp_path))}),
    )
    summary = {}
    with dg.instance_for_test() as instance:
        for step in registry.source("tmdb").demo_steps:
            summary.update(run_step(step, defs, instance, ("2024-02-22", "2024-02-29")))
    assert summary["tmdb_movies"]["rows"] == sim.world.n  # the top 1000 of a 160-movie world
    assert summary["tmdb_snapshots"]["partitions"] == 8 + HISTORY_DAYS
    assert summary["tmdb_movie_metrics"]["partitions"] == 8
    db = str(tmp_path / "warehouse.duckdb")
    build_views(tmp_path, db)
    for view in ORIGINAL_VIEWS:
        assert run_sql(db, f"SELECT count(*) AS n FROM {view}")["n"].item() > 0, view


def test_schedules_ask_for_yesterday_and_the_weekly_refresh_of_every_tracked_movie():
    defs = dg.Definitions(
        assets=ta.assets,
        schedules=ta.schedules,
        resources={"tmdb": TMDBResource(api_key="k"), ta.IO_MANAGER_KEY: dg.mem_io_manager},
    )
    repo = defs.get_repository_def()
    when = datetime(2024, 3, 3, 2, tzinfo=UTC)  # a Sunday
    requests = {}
    for schedule in repo.schedule_defs:
        context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=repo)
        requests[schedule.name] = schedule.evaluate_tick(context).run_requests[0]
    assert requests["tmdb_daily"].partition_key == "2024-03-02"
    assert requests["tmdb_weekly_refresh"].partition_key == "2024-03-02"
    refresh = requests["tmdb_weekly_refresh"].run_config["ops"]["tmdb_snapshots"]["config"]
    assert refresh == {"refresh_all_tracked": True}
    assert requests["tmdb_weekly_movies"].partition_key is None
    crons = {s.name: s.cron_schedule for s in repo.schedule_defs}
    assert crons == {
        "tmdb_daily": "0 2 * * *",
        "tmdb_weekly_movies": "0 3 * * 0",
        "tmdb_weekly_refresh": "30 3 * * 0",
    }


def test_definitions_pick_credentials_and_the_clock_from_the_profile(monkeypatch):
    monkeypatch.delenv("TMDB_BASE_URL", raising=False)
    monkeypatch.setenv("TMDB_READ_ACCESS_TOKEN", "token-value")
    production = tmdb_resource(Settings.from_env(profile="production"))
    assert production.sandbox_clock is False and production.base_url == "https://api.themoviedb.org/3"
    assert isinstance(production.read_access_token, dg.EnvVar)  # resolved at run time, never in config
    assert production.read_access_token.env_var_name == "TMDB_READ_ACCESS_TOKEN"
    assert production.api_key is None
    monkeypatch.delenv("TMDB_READ_ACCESS_TOKEN")
    monkeypatch.setenv("TMDB_API_KEY", "key-value")
    monkeypatch.setenv("TMDB_BASE_URL", "http://127.0.0.1:9/3")
    sandbox = tmdb_resource(Settings.from_env(profile="sandbox"))
    assert sandbox.sandbox_clock is True and sandbox.api_key.env_var_name == "TMDB_API_KEY"
    assert sandbox.base_url == "http://127.0.0.1:9/3"


def test_persistent_5xx_fails_the_run_clearly_and_writes_nothing(sim, lake, tmp_path):
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    before = (copy / "tmdb_snapshots" / "date=2024-02-29" / "part-0.parquet").read_bytes()
    sim.faults.update(error_rate=1.0)
    with pytest.raises(Exception, match=r"tmdb GET /3/discover/movie failed with HTTP 500 after 2 attempts"):
        run(copy, ["tmdb_snapshots"], "2024-02-29", tmdb=make_resource(sim, max_attempts=2))
    assert (copy / "tmdb_snapshots" / "date=2024-02-29" / "part-0.parquet").read_bytes() == before


def test_string_typed_popularity_is_read_as_a_number(sim, lake, tmp_path):
    shutil.copytree(lake, tmp_path / "lake")
    sim.set_knobs({"popularity_as_string": True})
    assert run(tmp_path / "lake", ["tmdb_snapshots"], "2024-02-28", tmdb=make_resource(sim)).success
    day = read(tmp_path / "lake", "tmdb_snapshots").filter(pl.col("snapshot_date") == date(2024, 2, 28))
    assert day.schema["popularity"] == pl.Float64
    assert day.drop("ingestion_timestamp").equals(
        read(lake, "tmdb_snapshots")
        .filter(pl.col("snapshot_date") == date(2024, 2, 28))
        .drop("ingestion_timestamp")
    )
