"""After the demo: the conformed table totals equal each source's, the views answer, the mapping
joins platforms, a re-run replaces, and the report renders in a real (headless Debian) Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from video_analytics import cli
from video_analytics.storage.parquet import list_partitions, read_table
from video_analytics.storage.warehouse import run_sql
from video_analytics_tests.support import DEMO_GROUP

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.xdist_group(DEMO_GROUP)
#: platform -> (lake folder, date column, views column) of the source each platform's views come from.
SOURCES = {
    "brightcove": ("daily_video_metrics", "date", "video_view"),
    "dailymotion": ("dm_daily_video_stats", "day", "views"),
    "wistia": ("fact_engagements_byday", "date", "play_count"),
    "agora": ("agora_video_daily_stats", "date", "views"),
}


@pytest.fixture(scope="module")
def demo_root(demo_run) -> Path:
    """The session's demo run (video_analytics_tests/conftest.py): its folder."""
    return demo_run[0]


def lake(root: Path) -> str:
    return str(root / "data")


def test_each_platform_totals_equal_its_source_table_day_by_day(demo_root):
    conformed = read_table(lake(demo_root), "video_daily_performance")
    got = conformed.group_by("platform", "date").agg(pl.col("views").sum()).sort("platform", "date")
    expected = []
    for platform, (table, day, views) in SOURCES.items():
        source = read_table(lake(demo_root), table).with_columns(pl.col(day).cast(pl.String).str.to_date())
        totals = (
            source.group_by(date=day)
            .agg(views=pl.col(views).sum().cast(pl.Int64))
            .with_columns(platform=pl.lit(platform))
        )
        expected.append(totals.filter(pl.col("date").is_in(conformed["date"].unique().implode())))
    want = pl.concat(expected).select("platform", "date", "views").sort("platform", "date")
    assert got.height == 4 * 3  # four platforms, three days
    assert got.to_dicts() == want.cast(got.schema).to_dicts()


def test_sql_returns_four_platforms_with_the_source_totals(demo_root, capsys):
    database = str(demo_root / "data" / "warehouse.duckdb")
    query = "SELECT platform, sum(views) AS views FROM video_daily_performance GROUP BY 1 ORDER BY 1"
    assert cli.main(["sql", query, "--database", database]) == 0
    printed = capsys.readouterr().out
    totals = dict(run_sql(database, query).iter_rows())
    assert sorted(totals) == ["agora", "brightcove", "dailymotion", "wistia"]
    days = list_partitions(lake(demo_root), "video_daily_performance")
    bc = read_table(lake(demo_root), "daily_video_metrics", start=days[0], end=days[-1])
    assert totals["brightcove"] == bc["video_view"].sum()
    assert all(str(v) in printed for v in totals.values())


def test_views_answer_share_top_content_week_over_week_and_qoe(demo_root):
    database = str(demo_root / "data" / "warehouse.duckdb")
    shares = run_sql(database, "SELECT date, sum(view_share) AS s FROM platform_share_daily GROUP BY 1")
    assert shares.height == 3 and all(abs(s - 1.0) < 1e-9 for s in shares["s"])
    top = run_sql(database, "SELECT * FROM top_content WHERE content_id = 'programme-01'").row(0, named=True)
    assert (top["platforms"], top["identity_methods"]) == (4, "explicit")
    weeks = run_sql(database, "SELECT platform, sum(views) AS v FROM week_over_week_by_platform GROUP BY 1")
    assert weeks.height == 4
    qoe = run_sql(database, "SELECT DISTINCT platform FROM qoe_vs_completion ORDER BY 1")
    assert qoe["platform"].to_list() == ["agora", "brightcove", "dailymotion", "wistia"]


def test_the_demo_mapping_joins_brightcove_and_dailymotion_videos(demo_root):
    identity = read_table(lake(demo_root), "video_identity")
    programme = identity.filter(content_id="programme-01")
    assert sorted(programme["platform"]) == ["agora", "brightcove", "dailymotion", "wistia"]
    assert programme["identity_method"].unique().to_list() == ["explicit"]
    others = identity.filter(~pl.col("content_id").str.starts_with("programme-"))
    assert set(others["identity_method"]) <= {"native", "title", "title+duration"}
    conformed = read_table(lake(demo_root), "video_daily_performance").filter(content_id="programme-01")
    assert conformed.filter(platform="brightcove")["qoe_startup_time_median_ms"].null_count() == 0


def test_rematerializing_a_day_replaces_it(demo_root, monkeypatch):
    days = list_partitions(lake(demo_root), "video_daily_performance")
    before = read_table(lake(demo_root), "video_daily_performance", start=days[-1], end=days[-1])
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", lake(demo_root))
    from video_analytics.definitions import build_definitions

    job = build_definitions().resolve_implicit_global_asset_job_def()
    selection = [dg.AssetKey("video_daily_performance")]
    with dg.instance_for_test() as instance:  # the demo's instance stays as the demo left it
        result = job.execute_in_process(instance=instance, partition_key=days[-1], asset_selection=selection)
    assert result.success
    after = read_table(lake(demo_root), "video_daily_performance", start=days[-1], end=days[-1])
    assert after.height == before.height > 0
    assert after.equals(before)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"unique_platform_video_day": True, "views_match_sources": True}


def test_ui_metadata_links_the_report_and_previews_tables(demo_root, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(demo_root / "home"))
    with dg.DagsterInstance.get() as instance:
        report = instance.get_latest_materialization_event(dg.AssetKey("video_performance_report"))
        table = instance.get_latest_materialization_event(dg.AssetKey("daily_video_metrics"))
    metadata = report.asset_materialization.metadata
    assert metadata["report_url"].value.startswith("file://") and Path(metadata["report"].value).exists()
    preview = table.asset_materialization.metadata["preview"].value
    assert preview.startswith("| channel | account_id | video_id |")


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
    args += ["--disable-component-update", "--no-first-run"]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


def test_report_renders_its_charts_in_chromium(demo_root, browser, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", lake(demo_root))
    assert cli.main(["report", "--out-dir", str(tmp_path)]) == 0
    path = capsys.readouterr().out.strip().removeprefix("wrote ")
    page = browser.new_page()
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(Path(path).as_uri())
    assert page.locator("figure.chart svg").count() == 4
    assert page.locator("#views-by-platform polyline.series").count() == 4  # one line per platform
    assert page.locator("#top-content rect.bar").count() > 0
    assert page.locator("#qoe-startup circle").count() == 3  # three days of Agora QoE
    box = page.locator("#views-by-platform svg").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    assert errors == []
    assert all(url.startswith("file://") for url in requests)  # offline: nothing fetched
    page.close()
