"""The assembled Definitions: what a user sees in the UI, and how settings and secrets flow in."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from video_analytics.brightcove import assets as bc
from video_analytics.brightcove.client import PRODUCTION_CMS_URL
from video_analytics.dailymotion import assets as dm_assets
from video_analytics.definitions import build_definitions
from video_analytics.policies import logic_modules
from video_analytics.settings import Settings, SettingsError

EXPECTED_ASSETS = {"cms_videos", "recently_viewed_videos", "daily_video_metrics"}


def test_asset_graph_snapshot():
    defs = build_definitions(Settings())
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys >= EXPECTED_ASSETS
    daily = graph.get(dg.AssetKey("daily_video_metrics"))
    assert daily.partitions_def.get_first_partition_key() == "2023-01-01"
    assert {p.to_user_string() for p in daily.parent_keys} == {"cms_videos"}
    checks = {
        key.name for key in graph.asset_check_keys if key.asset_key == dg.AssetKey("daily_video_metrics")
    }
    assert checks == {
        "unique_account_video_date",
        "counts_non_negative",
        "play_rate_within_0_1",
        "videos_exist_in_cms",
    }
    assert defs.resolve_schedule_def("brightcove_daily") is not None


def test_secrets_stay_environment_variables(monkeypatch):
    monkeypatch.setenv("BRIGHTCOVE_CLIENT_SECRET", "very-secret-value")
    defs = build_definitions(Settings())
    resource = defs.resources["brightcove"]
    assert isinstance(resource.client_secret, dg.EnvVar)
    assert "very-secret-value" not in repr(resource)


def test_endpoint_overrides_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BRIGHTCOVE_CMS_URL", "http://127.0.0.1:9/cms/v1")
    defs = build_definitions(Settings.from_env())
    assert defs.resources["brightcove"].cms_url == "http://127.0.0.1:9/cms/v1"
    assert build_definitions(Settings()).resources["brightcove"].cms_url == PRODUCTION_CMS_URL  # as passed in


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "VIDEO_ANALYTICS_PROFILE",
            "staging",
            "VIDEO_ANALYTICS_PROFILE='staging' is not one of sandbox, production",
        ),
        ("VIDEO_ANALYTICS_START_DATE", "01/01/2023", "not a date in YYYY-MM-DD form"),
        ("BRIGHTCOVE_ACCOUNTS", "{not json", "BRIGHTCOVE_ACCOUNTS is not valid JSON"),
        ("BRIGHTCOVE_ACCOUNTS", "[1, 2]", "must be a JSON object"),
    ],
)
def test_bad_settings_fail_with_a_clear_message(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        Settings.from_env()


def test_settings_defaults_and_accounts(monkeypatch):
    monkeypatch.setenv("BRIGHTCOVE_ACCOUNTS", '{"news": 123}')
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", "s3://bucket/lake")
    settings = Settings.from_env()
    assert settings.brightcove.accounts == {"news": "123"}
    assert settings.lake_root == "s3://bucket/lake"
    assert settings.profile == "sandbox" and settings.start_date == "2023-01-01"
    assert len(Settings().brightcove.accounts) == 5


def test_daily_schedule_repulls_the_three_provisional_days_in_one_run():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 5, 10, 6, tzinfo=UTC))
    request = bc.brightcove_daily_schedule(context)
    assert request.tags["dagster/asset_partition_range_start"] == "2024-05-07"
    assert request.tags["dagster/asset_partition_range_end"] == "2024-05-09"
    assert request.run_key == "brightcove-2024-05-09"


def test_daily_schedule_refreshes_the_catalogue_with_the_metrics():
    defs = build_definitions(Settings())
    job = defs.resolve_job_def(defs.resolve_schedule_def("brightcove_daily").job_name)
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"cms_videos", "daily_video_metrics", "recently_viewed_videos"} <= selected


def test_every_asset_has_owners_and_a_code_version():
    graph = build_definitions(Settings()).resolve_asset_graph()
    nodes = [graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable]
    assert nodes
    assert all(node.owners == ["team:video-analytics"] for node in nodes)
    assert all(node.code_version and len(node.code_version) == 12 for node in nodes)
    # one op, one logic: the two outputs of a multi-asset share a version; other assets differ
    versions = {node.key.to_user_string(): node.code_version for node in nodes}
    assert versions["agora_session_stats"] == versions["agora_rejects"]
    assert versions["agora_session_stats"] != versions["agora_video_daily_stats"]


def test_owners_come_from_settings_by_group():
    owners = {"tmdb": ["movies@example.com"], "*": ["team:platform"]}
    graph = build_definitions(Settings(owners=owners)).resolve_asset_graph()
    assert graph.get(dg.AssetKey("tmdb_snapshots")).owners == ["movies@example.com"]
    assert graph.get(dg.AssetKey("cms_videos")).owners == ["team:platform"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"tmdb": "a@b.c"}', "must be a JSON object of asset group -> list of owners"),
        ('{"tmdb": ["alice"]}', "owner 'alice' is neither an email address nor team:<name>"),
    ],
)
def test_bad_owners_setting_says_what_to_fix(monkeypatch, value, message):
    monkeypatch.setenv("VIDEO_ANALYTICS_OWNERS", value)
    with pytest.raises(SettingsError, match="VIDEO_ANALYTICS_OWNERS"):
        Settings.from_env()
    with pytest.raises(SettingsError) as info:
        Settings.from_env()
    assert message in str(info.value)


def first_partition_keys(defs: dg.Definitions) -> set[str]:
    graph = defs.resolve_asset_graph()
    keys = [*graph.get_all_asset_keys(), *graph.asset_check_keys]
    return {
        graph.get(k).partitions_def.get_first_partition_key() for k in keys if graph.get(k).partitions_def
    }


def test_two_definitions_with_two_start_dates_in_one_process(monkeypatch):
    """The settings passed in decide, not the environment nor an earlier build."""
    monkeypatch.setenv("VIDEO_ANALYTICS_START_DATE", "2021-06-01")  # ignored: not the settings passed in
    march = build_definitions(Settings(start_date="2024-03-01"))
    july = build_definitions(Settings(start_date="2025-07-15"))
    assert first_partition_keys(march) == {"2024-03-01"}
    assert first_partition_keys(july) == {"2025-07-15"}
    assert first_partition_keys(build_definitions(Settings.from_env())) == {"2021-06-01"}
    # the DailyMotion sensors ask reports from the first day of the definitions they run in
    for defs, first in ((march, "2024-03-01"), (july, "2025-07-15")):
        context = dg.build_sensor_context(repository_def=defs.get_repository_def())
        assert dm_assets.first_partition_day(context, dm_assets.HOURLY).isoformat() == first


def test_dailymotion_sensors_run_by_default_only_in_the_sandbox():
    names = (dm_assets.SENSOR_NAME, dm_assets.EARNINGS_SENSOR_NAME)
    sandbox = build_definitions(Settings(profile="sandbox"))
    production = build_definitions(Settings(profile="production", secrets_check="run"))
    running, stopped = dg.DefaultSensorStatus.RUNNING, dg.DefaultSensorStatus.STOPPED
    assert {sandbox.resolve_sensor_def(name).default_status for name in names} == {running}
    assert {production.resolve_sensor_def(name).default_status for name in names} == {stopped}
    assert sandbox.resolve_sensor_def(dm_assets.SENSOR_NAME).minimum_interval_seconds == 60


def test_code_versions_cover_the_transforms_that_asset_functions_import():
    """Asset functions import their transforms where they run (loading the definitions imports no
    polars): the transforms, and the Agora log reader the asset only names for type checkers, still
    make part of the code version; an asset's own module counts only by its function."""
    defs = build_definitions(Settings())
    modules = {key.to_user_string(): logic_modules(a) for a in defs.assets or [] for key in a.keys}
    assert "video_analytics.brightcove.transforms" in modules["cms_videos"]
    assert "video_analytics.tmdb.transforms" in modules["tmdb_movie_metrics"]
    assert "video_analytics.tmdb.thresholds" in modules["tmdb_movie_metrics"]
    assert {"video_analytics.agora.engine", "video_analytics.agora.client"} <= set(
        modules["agora_session_stats"]
    )
    assert {"video_analytics.unified.conform", "video_analytics.unified.identity"} <= set(
        modules["video_daily_performance"]
    )
    assert "video_analytics.brightcove.assets" not in modules["cms_videos"]
