"""Brightcove assets end to end: real client, real HTTP, the simulator, the Parquet lake."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest

from video_analytics.brightcove import assets as bc
from video_analytics.brightcove.resources import BrightcoveResource
from video_analytics.http import ApiError, ResponseFormatError
from video_analytics.partitions import partition_range_tags
from video_analytics.sandbox import Faults, Sandbox
from video_analytics.storage.parquet import ParquetLakeIOManager

TODAY = date(2024, 3, 1)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(today=TODAY, scale="test") as running:
        yield running


@pytest.fixture(autouse=True)
def healthy(sandbox):
    yield
    sandbox.brightcove.faults.update(**Faults().snapshot())  # the next test starts without faults


def resources(sandbox: Sandbox, lake: Path, **overrides) -> dict:
    env = sandbox.env()
    config = {
        "client_id": env["BRIGHTCOVE_CLIENT_ID"],
        "client_secret": env["BRIGHTCOVE_CLIENT_SECRET"],
        "accounts": json.loads(env["BRIGHTCOVE_ACCOUNTS"]),
        "oauth_url": env["BRIGHTCOVE_OAUTH_URL"],
        "cms_url": env["BRIGHTCOVE_CMS_URL"],
        "analytics_url": env["BRIGHTCOVE_ANALYTICS_URL"],
        "retry_base_delay": 0.01,
    }
    brightcove = BrightcoveResource(**{**config, **overrides})
    return {"brightcove": brightcove, "io_manager": ParquetLakeIOManager(root=str(lake))}


def run(assets, res, *, start: str | None = None, end: str | None = None, instance=None, raise_on_error=True):
    tags = partition_range_tags(start, end) if start else {}
    return dg.materialize(
        [bc.cms_videos, bc.recently_viewed_videos, bc.daily_video_metrics],
        selection=assets,
        resources=res,
        tags=tags,
        instance=instance,
        raise_on_error=raise_on_error,
    )


def read_days(lake: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(sorted((lake / table).glob("date=*/part-0.parquet")))


def truth(sandbox: Sandbox, account: str, start: date, end: date, dimensions: str) -> pl.DataFrame:
    """What the simulator says, asked directly with limit=all (no paging, no client code)."""
    env = sandbox.env()
    token = httpx.post(
        f"{env['BRIGHTCOVE_OAUTH_URL']}/access_token",
        data={"grant_type": "client_credentials"},
        auth=(env["BRIGHTCOVE_CLIENT_ID"], env["BRIGHTCOVE_CLIENT_SECRET"]),
    ).json()["access_token"]
    body = httpx.get(
        f"{env['BRIGHTCOVE_ANALYTICS_URL']}/data",
        params={
            "accounts": account,
            "dimensions": dimensions,
            "from": str(start),
            "to": str(end),
            "limit": "all",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ).json()
    return pl.DataFrame(body["items"])


@pytest.fixture(scope="module")
def catalogue(sandbox, tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    result = run([bc.cms_videos], resources(sandbox, lake))
    assert result.success
    return lake


def test_cms_videos_lists_every_video_of_every_account(sandbox, catalogue):
    cms = pl.read_parquet(catalogue / "cms_videos" / "part-0.parquet")
    accounts = json.loads(sandbox.env()["BRIGHTCOVE_ACCOUNTS"])
    assert set(cms["channel"]) == set(accounts)
    assert cms["id"].n_unique() == cms.height
    for channel, account in accounts.items():
        expected = len(sandbox.brightcove.world.catalogs[account].videos)
        assert cms.filter(pl.col("channel") == channel).height == expected


def test_cms_filter_config_applies_the_runbook_filter(sandbox, tmp_path):
    config = {"ops": {"cms_videos": {"config": {"states": ["ACTIVE"], "require_published": True}}}}
    result = dg.materialize([bc.cms_videos], resources=resources(sandbox, tmp_path), run_config=config)
    assert result.success
    cms = pl.read_parquet(tmp_path / "cms_videos" / "part-0.parquet")
    assert cms.height > 0
    assert set(cms["state"]) == {"ACTIVE"} and cms["published_at"].null_count() == 0


def test_sixty_day_backfill_is_one_run_with_exactly_the_simulators_numbers(sandbox, catalogue, tmp_path):
    lake = tmp_path
    (lake / "cms_videos").mkdir()
    (lake / "cms_videos" / "part-0.parquet").write_bytes(
        (catalogue / "cms_videos" / "part-0.parquet").read_bytes()
    )
    end = TODAY - timedelta(days=1)
    start = end - timedelta(days=59)
    result = run([bc.daily_video_metrics], resources(sandbox, lake), start=str(start), end=str(end))
    assert result.success
    files = list((lake / "daily_video_metrics").glob("date=*/part-0.parquet"))
    assert len(files) == 60
    frame = read_days(lake, "daily_video_metrics")
    assert frame.select("account_id", "video_id", "date").n_unique() == frame.height
    account = json.loads(sandbox.env()["BRIGHTCOVE_ACCOUNTS"])["internet"]
    expected = truth(sandbox, account, start, end - timedelta(days=3), "video,date")
    ours = frame.filter((pl.col("account_id") == account) & (pl.col("date") <= end - timedelta(days=3)))
    assert ours.height == expected.height
    assert ours["video_view"].sum() == expected["video_view"].sum()
    assert (
        ours["views_desktop"] + ours["views_mobile"] + ours["views_tablet"] + ours["views_other"]
    ).to_list() == (ours["video_view"].to_list())
    metadata = result.asset_materializations_for_node("daily_video_metrics")[0].metadata
    requests = metadata["api_requests"].value
    assert 0 < requests < 60, "a 60-day backfill of 5 accounts must take a handful of bulk requests"
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_rerun_of_settled_days_yields_the_same_rows(sandbox, catalogue, tmp_path):
    lake = tmp_path
    (lake / "cms_videos").mkdir()
    (lake / "cms_videos" / "part-0.parquet").write_bytes(
        (catalogue / "cms_videos" / "part-0.parquet").read_bytes()
    )
    day = str(TODAY - timedelta(days=10))
    assert run([bc.daily_video_metrics], resources(sandbox, lake), start=day, end=day).success
    first = read_days(lake, "daily_video_metrics").drop("report_generated_on")
    assert run([bc.daily_video_metrics], resources(sandbox, lake), start=day, end=day).success
    second = read_days(lake, "daily_video_metrics").drop("report_generated_on")
    assert first.height > 0
    assert first.sort("account_id", "video_id").equals(second.sort("account_id", "video_id"))


def test_recently_viewed_videos_have_last_view_inside_the_window(sandbox, catalogue):
    day = str(TODAY - timedelta(days=1))
    result = run([bc.recently_viewed_videos], resources(sandbox, catalogue), start=day, end=day)
    assert result.success
    frame = read_days(catalogue, "recently_viewed_videos")
    assert frame.height > 0
    assert frame["last_viewed_date"].max() <= date.fromisoformat(day)
    assert frame["last_viewed_date"].min() >= date.fromisoformat(day) - timedelta(days=89)
    assert frame.select("account_id", "video_id").n_unique() == frame.height


@pytest.mark.parametrize(
    "fault",
    [{"throttle_next": 4}, {"error_next": 3}, {"error_rate": 0.2}],
    ids=["429-burst", "500s", "random-5xx"],
)
def test_transient_faults_are_retried_and_counted(sandbox, catalogue, fault, tmp_path):
    lake = tmp_path
    (lake / "cms_videos").mkdir()
    (lake / "cms_videos" / "part-0.parquet").write_bytes(
        (catalogue / "cms_videos" / "part-0.parquet").read_bytes()
    )
    sandbox.brightcove.faults.update(**fault)
    day = str(TODAY - timedelta(days=20))
    result = run([bc.daily_video_metrics], resources(sandbox, lake, max_attempts=10), start=day, end=day)
    assert result.success
    metadata = result.asset_materializations_for_node("daily_video_metrics")[0].metadata
    assert metadata["api_retries"].value >= 1


def test_token_expiring_mid_run_is_refreshed(sandbox, catalogue, tmp_path):
    """Tokens are revoked twice while the run pages the CMS: each 401 costs one refresh, no failure."""
    sandbox.brightcove.stats.reset()
    sandbox.brightcove.knobs.revoke_tokens_every = 4
    try:
        result = run([bc.cms_videos], resources(sandbox, tmp_path))
    finally:
        sandbox.brightcove.knobs.revoke_tokens_every = 0
    assert result.success
    stats = sandbox.brightcove.stats.snapshot()
    unauthorised = stats["status"].get("401", 0)
    assert unauthorised >= 2, "the test must really have hit revoked tokens"
    assert 2 <= stats["tokens_issued"] <= unauthorised + 1  # at most one refresh per 401
    cms = pl.read_parquet(tmp_path / "cms_videos" / "part-0.parquet")
    assert cms.height == pl.read_parquet(catalogue / "cms_videos" / "part-0.parquet").height


def test_truncated_body_fails_with_the_endpoint_and_writes_nothing(sandbox, catalogue, tmp_path):
    lake = tmp_path
    (lake / "cms_videos").mkdir()
    (lake / "cms_videos" / "part-0.parquet").write_bytes(
        (catalogue / "cms_videos" / "part-0.parquet").read_bytes()
    )
    sandbox.brightcove.faults.update(truncate_next=1000)
    day = str(TODAY - timedelta(days=20))
    with pytest.raises(ResponseFormatError) as failure:
        run([bc.daily_video_metrics], resources(sandbox, lake, max_attempts=2), start=day, end=day)
    assert "/data" in str(failure.value)
    assert not (lake / "daily_video_metrics").exists()


def test_wrong_credentials_fail_clearly_without_leaking_the_secret(sandbox, tmp_path):
    res = resources(sandbox, tmp_path, client_secret="s3cr3t-wrong")
    with pytest.raises(ApiError) as failure:
        run([bc.cms_videos], res)
    assert "401" in str(failure.value) or "400" in str(failure.value)
    assert "s3cr3t-wrong" not in str(failure.value)


def test_small_pages_split_the_range_and_never_duplicate_or_drop_rows(sandbox, catalogue, tmp_path):
    """With 5 rows a response every range must be split down to single days (then `limit=all`)."""
    lake = tmp_path
    (lake / "cms_videos").mkdir()
    (lake / "cms_videos" / "part-0.parquet").write_bytes(
        (catalogue / "cms_videos" / "part-0.parquet").read_bytes()
    )
    start, end = TODAY - timedelta(days=14), TODAY - timedelta(days=5)
    res = resources(sandbox, lake, analytics_page_limit=5)
    assert run([bc.daily_video_metrics], res, start=str(start), end=str(end)).success
    ours = read_days(lake, "daily_video_metrics")
    account = json.loads(sandbox.env()["BRIGHTCOVE_ACCOUNTS"])["research"]
    expected = truth(sandbox, account, start, end, "video,date")
    mine = ours.filter(pl.col("account_id") == account)
    assert mine.select("video_id", "date").n_unique() == mine.height
    expected_keys = {(str(r["video"]), r["date"], r["video_view"]) for r in expected.iter_rows(named=True)}
    our_keys = {(r["video_id"], str(r["date"]), r["video_view"]) for r in mine.iter_rows(named=True)}
    assert our_keys == expected_keys


def test_no_secret_reaches_logs_events_or_metadata(sandbox, catalogue, tmp_path, caplog):
    secret = sandbox.env()["BRIGHTCOVE_CLIENT_SECRET"]
    with dg.instance_for_test() as instance:
        sandbox.brightcove.faults.update(throttle_next=2, error_next=1)  # retries get logged too
        assert run([bc.cms_videos], resources(sandbox, tmp_path), instance=instance).success
        records = instance.get_records_for_run(instance.get_runs()[0].run_id).records
        dump = "\n".join(str(record.event_log_entry) for record in records)
    assert "cms_videos" in dump
    assert secret not in dump
    assert secret not in caplog.text


def test_recently_viewed_carries_every_cms_field_of_active_videos_like_the_original_cache(sandbox, catalogue):
    day = str(TODAY - timedelta(days=2))
    assert run([bc.recently_viewed_videos], resources(sandbox, catalogue), start=day, end=day).success
    frame = read_days(catalogue, "recently_viewed_videos").filter(pl.col("date") == date.fromisoformat(day))
    cms = pl.read_parquet(catalogue / "cms_videos" / "part-0.parquet")
    assert set(cms.columns) - {"id"} <= set(frame.columns)
    assert frame.height > 0 and set(frame["state"]) == {"ACTIVE"}
    joined = frame.join(cms, left_on=["account_id", "video_id"], right_on=["account_id", "id"], suffix="_cms")
    assert joined.height == frame.height
    for column in (
        "original_filename",
        "duration",
        "reference_id",
        "tags",
        "video_category",
        "business_unit",
    ):
        assert joined[column].equals(joined[f"{column}_cms"]), column


def test_cms_videos_keeps_every_video_by_default_and_says_why_in_the_ui(sandbox, tmp_path):
    result = dg.materialize([bc.cms_videos], resources=resources(sandbox, tmp_path))
    cms = pl.read_parquet(tmp_path / "cms_videos" / "part-0.parquet")
    assert set(cms["state"]) > {"ACTIVE"}, "the default keeps inactive videos too"
    (event,) = result.get_asset_materialization_events()
    metadata = event.event_specific_data.materialization.metadata
    runbook = cms.filter(
        (pl.col("state") == "ACTIVE")
        & pl.col("published_at").is_not_null()
        & pl.col("created_at").dt.year().is_in([2024, 2025])
    )
    assert metadata["runbook_csv_videos"].value == runbook.height
    assert metadata["filter"].value.startswith("none (default): By default every video is kept")
    description = bc.cms_videos.specs_by_key[dg.AssetKey("cms_videos")].description
    assert "Filtering here would leave the views of older or deactivated videos without a name" in description
