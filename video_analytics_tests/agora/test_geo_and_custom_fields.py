"""Agora GeoIP columns (a MaxMind database the test writes itself) and custom x_* fields per stream."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from video_analytics.agora import assets as ag
from video_analytics.agora import configuration, linescan
from video_analytics.agora.client import LogReader
from video_analytics.agora.engine import analyse_day
from video_analytics.agora.resources import AgoraCustomField, AgoraLogsResource, agora_logs_resource
from video_analytics.partitions import partition_range_tags
from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics_tests.agora.conftest import LONG_ID, event, render

DAY = date(2024, 3, 1)
DENVER = "68.184.122.93"
PARIS = "2001:db8::5"
UNKNOWN = "10.1.2.3"
SHORT_ID = "12345"


def write_city_db(path: Path) -> None:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"])
    writer.insert_network(
        IPSet(["68.184.122.0/24"]),
        {
            "city": {"names": {"en": "Denver"}},
            "country": {"iso_code": "US", "names": {"en": "United States"}},
            "location": {"latitude": 39.7392, "longitude": -104.9903, "metro_code": 751},
            "postal": {"code": "80202"},
        },
    )
    writer.insert_network(
        IPSet(["2001:db8::/32"]),
        {
            "country": {"iso_code": "FR", "names": {"en": "France"}},
            "location": {"latitude": 48.85, "longitude": 2.35},
        },
    )
    writer.to_db_file(str(path))


def write_asn_db(path: Path) -> None:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    writer.insert_network(
        IPSet(["68.184.0.0/16"]), {"autonomous_system_organization": "Charter Communications"}
    )
    writer.to_db_file(str(path))


def day_lines() -> list[str]:
    """Three streams: Denver (custom fields vary), Paris over IPv6, and a client the database lacks."""
    denver = [
        event(
            0,
            "MediaStarted",
            x_stream_size="391",
            x_bandwidth="900",
            x_encoding_name="hls-400k",
            x_flash_player="false",
        ),
        event(
            10,
            "MediaQualityChangeAuto",
            x_stream_size="1172",
            x_bandwidth="4000",
            x_encoding_name="hls-1200k",
        ),
        event(20, "MediaEnded", x_stream_size="1172", x_bandwidth="5000", x_flash_player="true"),
    ]
    paris = [
        event(5, "MediaStarted", x_tracking_id=SHORT_ID, client_id=PARIS, x_stream_size="664"),
        event(9, "MediaEnded", x_tracking_id=SHORT_ID, client_id=PARIS, x_stream_size="not-a-number"),
    ]
    unknown = [event(7, "MediaStarted", x_tracking_id="9" * 40, client_id=UNKNOWN)]
    not_an_ip = [event(8, "MediaStarted", x_tracking_id="8" * 40, client_id="proxy.example")]
    return render(denver + paris + unknown + not_an_ip)


@pytest.fixture
def log_root(tmp_path) -> Path:
    folder = tmp_path / "logs" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "a.log").write_text("\n".join(day_lines()) + "\n")
    return tmp_path / "logs"


def materialize(resource: AgoraLogsResource, lake: Path, instance=None):
    return dg.materialize(
        ag.assets,
        resources={"agora_logs": resource, "io_manager": ParquetLakeIOManager(root=str(lake))},
        tags=partition_range_tags(DAY.isoformat(), DAY.isoformat()),
        instance=instance,
    )


def by_key(lake: Path) -> dict[str, dict]:
    frame = pl.read_parquet(lake / "agora_session_stats" / f"date={DAY}" / "part-0.parquet")
    return {row["key"]: row for row in frame.iter_rows(named=True)}


def test_geo_columns_come_from_the_mmdb_by_client_ip(log_root, tmp_path):
    write_city_db(tmp_path / "city.mmdb")
    write_asn_db(tmp_path / "asn.mmdb")
    resource = AgoraLogsResource(
        log_root=str(log_root),
        geoip_database=str(tmp_path / "city.mmdb"),
        isp_database=str(tmp_path / "asn.mmdb"),
    )
    result = materialize(resource, tmp_path / "lake")
    rows = by_key(tmp_path / "lake")
    denver = rows[LONG_ID]
    assert {
        c: denver[c] for c in ("geo_city", "geo_country_code", "geo_country_name", "geo_postal_code")
    } == {
        "geo_city": "Denver",
        "geo_country_code": "US",
        "geo_country_name": "United States",
        "geo_postal_code": "80202",
    }
    assert (denver["geo_latitude"], denver["geo_longitude"], denver["geo_metro_code"]) == (
        39.7392,
        -104.9903,
        "751",
    )
    assert denver["isp_name"] == "Charter Communications"
    paris = rows[f"{SHORT_ID}-2365304868"]
    assert (paris["geo_country_code"], paris["geo_city"], paris["isp_name"]) == ("FR", None, None)
    for nowhere in ("9" * 40, "8" * 40):  # an IP the database lacks; a client id that is no IP
        assert all(v is None for k, v in rows[nowhere].items() if k.startswith("geo_") or k == "isp_name")
    materialization = next(
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key == dg.AssetKey("agora_session_stats")
    )
    assert materialization.metadata["geo_located_streams"].value == 2


def test_without_a_database_geo_stays_empty_and_the_run_says_why(log_root, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(AgoraLogsResource(log_root=str(log_root)), tmp_path / "lake", instance)
    rows = by_key(tmp_path / "lake")
    assert {row["geo_country_code"] for row in rows.values()} == {None}
    messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("no GeoIP database set (AGORA_GEOIP_DATABASE" in m for m in messages)


def test_a_missing_database_fails_the_run_naming_the_setting(log_root, tmp_path):
    resource = AgoraLogsResource(log_root=str(log_root), geoip_database=str(tmp_path / "nope.mmdb"))
    with pytest.raises(dg.Failure, match=r"AGORA_GEOIP_DATABASE=.*nope\.mmdb: no such file"):
        materialize(resource, tmp_path / "lake")
    (tmp_path / "text.mmdb").write_text("not a database")
    resource = AgoraLogsResource(log_root=str(log_root), isp_database=str(tmp_path / "text.mmdb"))
    with pytest.raises(dg.Failure, match=r"AGORA_ISP_DATABASE=.*text\.mmdb: not a MaxMind DB file"):
        materialize(resource, tmp_path / "lake")


def test_built_in_and_configured_custom_fields_are_aggregated_per_stream(log_root, tmp_path):
    flash = AgoraCustomField(key="x_flash_player", column="flash_player_last", aggregate="last")
    resource = AgoraLogsResource(log_root=str(log_root), custom_fields=[flash])
    materialize(resource, tmp_path / "lake")
    rows = by_key(tmp_path / "lake")
    denver, paris, unknown = rows[LONG_ID], rows[f"{SHORT_ID}-2365304868"], rows["9" * 40]
    assert denver["stream_bitrate_kbps_mean"] == pytest.approx((391 + 1172 + 1172) / 3)
    assert (denver["stream_bitrate_kbps_max"], denver["stream_bitrate_renditions"]) == (1172.0, 2)
    assert (denver["encoding_name"], denver["bandwidth_min"], denver["bandwidth_mean"]) == (
        "hls-400k",
        900.0,
        3300.0,
    )
    assert denver["flash_player_last"] == "true"
    # a value that is not a number does not count in numeric aggregates; distinct counts count it
    assert (paris["stream_bitrate_kbps_mean"], paris["stream_bitrate_renditions"]) == (664.0, 2)
    assert (unknown["stream_bitrate_kbps_mean"], unknown["encoding_name"], unknown["flash_player_last"]) == (
        None,
        None,
        None,
    )


@pytest.fixture(params=["native", "polars-only"])
def readers(request, monkeypatch) -> str:
    """The custom fields' readers: the native scanner (in its pass over each line), or polars alone."""
    if request.param == "native" and not linescan.available():
        pytest.skip("the native scanner is not built")
    if request.param == "polars-only":
        monkeypatch.setattr(linescan, "_linescan", None)
    return request.param


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_custom_fields_are_the_same_across_block_boundaries(tmp_path, fmt, readers):
    """Streams cut by block ends (tiny blocks) reduce to the same values as one block, in both formats."""
    events = [
        event(i, "MediaBufferingStart", x_stream_size=str(100 * (i % 4)), x_encoding_name=f"e{i}")
        for i in range(40)
    ]
    # lines the scanner hands back to polars: non-ASCII, and a quoted value holding ` x_tpmid=`
    events[7][1]["x_episode_title"] = "Nová épisode"
    events[8][1]["x_episode_title"] = "a x_tpmid=5 b"
    folder = tmp_path / DAY.isoformat()
    folder.mkdir()
    (folder / "a.log").write_text("\n".join(render(events, fmt)) + "\n")
    fields = (*configuration.BUILT_IN, configuration.CustomField("x_encoding_name", "encoding_last", "last"))
    whole = analyse_day(LogReader(str(tmp_path)), DAY, fields=fields).sessions
    split = analyse_day(LogReader(str(tmp_path), block_bytes=300), DAY, fields=fields).sessions
    columns = [f.column for f in fields]
    assert split.select(columns).rows() == whole.select(columns).rows()
    assert whole.select(columns).row(0) == (150.0, 300.0, 4, "e0", None, None, "e39")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[{", r"AGORA_CUSTOM_FIELDS is not valid JSON"),
        ('{"key": "x_a"}', r"AGORA_CUSTOM_FIELDS must be a JSON list"),
        (
            '[{"key": "x_a", "aggregate": "median"}]',
            r"AGORA_CUSTOM_FIELDS\[0\]: aggregate 'median' is not one of",
        ),
        ('[{"key": "x_a"}, {"key": "bad key"}]', r"AGORA_CUSTOM_FIELDS\[1\]: key 'bad key' is not a log key"),
        ('[{"key": "x_a", "colum": "a"}]', r"AGORA_CUSTOM_FIELDS\[0\]: unknown entries \['colum'\]"),
        ('[{"key": "x_a", "column": "title"}]', r"AGORA_CUSTOM_FIELDS\[0\]: column 'title' already exists"),
    ],
)
def test_bad_custom_field_settings_say_which_entry_to_fix(raw, message):
    with pytest.raises(configuration.CustomFieldError, match=message):
        configuration.parse_setting(raw, reserved=["title"])


def test_settings_reach_the_resource(monkeypatch, tmp_path):
    monkeypatch.setenv("AGORA_CUSTOM_FIELDS", '[{"key": "x_start_time", "aggregate": "min"}]')
    monkeypatch.setenv("AGORA_GEOIP_DATABASE", str(tmp_path / "city.mmdb"))
    resource = agora_logs_resource(Settings.from_env())
    assert resource.geoip_database == str(tmp_path / "city.mmdb")
    assert resource.field_specs()[-1] == configuration.CustomField("x_start_time", "x_start_time", "min")
    monkeypatch.setenv("AGORA_CUSTOM_FIELDS", '[{"key": "x_a", "column": "encoding_name"}]')
    with pytest.raises(configuration.CustomFieldError, match="column 'encoding_name' already exists"):
        agora_logs_resource(Settings.from_env()).field_specs()
    monkeypatch.setenv("AGORA_CUSTOM_FIELDS", "nope")
    with pytest.raises(SettingsError, match="AGORA_CUSTOM_FIELDS is not valid JSON"):
        agora_logs_resource(Settings.from_env())
