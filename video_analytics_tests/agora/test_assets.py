"""Agora end to end: generated logs (local and s3://) -> engine -> Dagster assets -> Parquet lake."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from video_analytics.agora import assets as ag
from video_analytics.agora import definitions, engine
from video_analytics.agora.client import LogReader, LogRootError
from video_analytics.agora.engine import analyse_day
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.partitions import partition_range_tags
from video_analytics.sandbox.agora import demo as agora_demo
from video_analytics.sandbox.agora.generator import write_day
from video_analytics.settings import Settings
from video_analytics.storage.parquet import EncodedPartitions, ParquetLakeIOManager
from video_analytics_tests.agora.conftest import event, render

DAYS = (date(2024, 3, 1), date(2024, 3, 2))


@pytest.fixture(scope="module")
def log_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("agora_logs")
    for day in DAYS:
        write_day(str(root), day, 6_000, files=3, gzip_files=day == DAYS[1])
    return root


def run(
    root: str, lake: Path, start: str, end: str, *, storage_options=None, config=None, raise_on_error=True
):
    logs = AgoraLogsResource(log_root=root, storage_options=storage_options or {})
    return dg.materialize(
        ag.assets,
        resources={"agora_logs": logs, "io_manager": ParquetLakeIOManager(root=str(lake))},
        tags=partition_range_tags(start, end),
        run_config={"ops": {"agora_session_stats": {"config": config}}} if config else None,
        raise_on_error=raise_on_error,
    )


def read(lake: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(sorted((lake / table).glob("date=*/part-0.parquet")))


def metadata(result, asset: str) -> dict:
    for e in result.get_asset_materialization_events():
        materialization = e.event_specific_data.materialization
        if materialization.asset_key == dg.AssetKey(asset):
            return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    raise AssertionError(asset)


def test_two_days_end_to_end_and_rerun_replaces_exactly(log_root, tmp_path):
    result = run(str(log_root), tmp_path, "2024-03-01", "2024-03-02")
    assert result.success
    sessions, rejects, videos = (
        read(tmp_path, t) for t in ("agora_session_stats", "agora_rejects", "agora_video_daily_stats")
    )
    meta = metadata(result, "agora_session_stats")
    # the original's counters add up and match the tables
    assert meta["total_events"] == meta["valid_events"] + meta["keyless_events"] + meta["unparsable_events"]
    assert meta["total_streams"] == sessions.height > 200  # 27% of 12,000 lines keyed, ~11 a stream
    assert rejects.height == meta["total_events"] - meta["valid_events"] + meta["bad_data_events"] > 0
    assert set(rejects["reason"]) >= {"keyless", "bad_timestamp", "bad_buffering_length"}
    assert sorted(set(sessions["date"])) == list(DAYS)
    assert videos.group_by("date").agg(pl.col("views").sum()).sort("date")["views"].to_list() == (
        sessions.group_by("date").len().sort("date")["len"].to_list()
    )
    assert all(c.passed for c in result.get_asset_check_evaluations())
    # re-running one day replaces that day exactly: same rows, no duplicates, other day untouched
    rerun = run(str(log_root), tmp_path, "2024-03-02", "2024-03-02")
    assert rerun.success
    assert_frame_equal(read(tmp_path, "agora_session_stats"), sessions)
    assert_frame_equal(read(tmp_path, "agora_rejects"), rejects)
    assert_frame_equal(read(tmp_path, "agora_video_daily_stats"), videos)


def test_a_multi_day_run_encodes_each_day_before_reading_the_next(log_root, tmp_path, monkeypatch):
    """Memory of a single-run backfill: a day's frames become compressed Parquet as soon as the day is
    analysed, so the run never holds two days' rows; the lake still gets one file per day."""
    steps = []
    analyse, add = engine.analyse_day, EncodedPartitions.add

    def analysed(reader, day, **kwargs):
        steps.append(("analyse", day.isoformat()))
        return analyse(reader, day, **kwargs)

    def encoded(self, key, frame):
        steps.append(("encode", key, frame.height))
        add(self, key, frame)

    monkeypatch.setattr(engine, "analyse_day", analysed)
    monkeypatch.setattr(EncodedPartitions, "add", encoded)
    result = run(str(log_root), tmp_path, "2024-03-01", "2024-03-02")
    assert result.success
    assert [step[:2] for step in steps] == [
        ("analyse", "2024-03-01"),
        ("encode", "2024-03-01"),  # sessions
        ("encode", "2024-03-01"),  # rejects
        ("analyse", "2024-03-02"),
        ("encode", "2024-03-02"),
        ("encode", "2024-03-02"),
    ]
    sessions, rejects = read(tmp_path, "agora_session_stats"), read(tmp_path, "agora_rejects")
    for day in DAYS:
        day_steps = [step[2] for step in steps if step[:2] == ("encode", day.isoformat())]
        assert day_steps == [
            sessions.filter(pl.col("date") == day).height,
            rejects.filter(pl.col("date") == day).height,
        ]
    assert metadata(result, "agora_rejects")["rows_per_partition"] == {
        day.isoformat(): rejects.filter(pl.col("date") == day).height for day in DAYS
    }


def test_a_day_is_sized_by_its_lines_not_its_bytes(log_root, tmp_path):
    """Memory follows the number of events: a day of short lines spills where one of long lines of
    the same size does not."""
    reader = LogReader(str(log_root))
    files = reader.day_files(DAYS[0])
    estimate = engine.estimated_lines(reader, files)
    assert 0.8 < estimate / analyse_day(reader, DAYS[0]).lines < 1.25
    short = tmp_path / DAYS[0].isoformat()
    short.mkdir()
    (short / "short.log").write_bytes(b"2024-03-01 00:00:00,000 - x\n" * 50_000)  # 1.4 MB
    long_lines = tmp_path / "long" / DAYS[0].isoformat()
    long_lines.mkdir(parents=True)
    (long_lines / "long.log").write_bytes((b"x" * 1399 + b"\n") * 1_000)  # 1.4 MB
    lines = [
        engine.estimated_lines(LogReader(str(root)), [str(next(root.glob("*/*.log")))])
        for root in (tmp_path, tmp_path / "long")
    ]
    assert lines == [50_000, 1_000]
    assert [engine.bucket_count(n, bucket_lines=20_000, in_memory_lines=40_000) for n in lines] == [3, 1]


@pytest.mark.parametrize("written_every", [64 << 20, 20_000], ids=["once", "every-few-blocks"])
def test_spilled_buckets_give_the_same_answer_as_memory(log_root, monkeypatch, written_every):
    monkeypatch.setattr(engine, "SPILL_BUFFER_BYTES", written_every)
    writes = []
    write = engine._EventStore._write_pending
    monkeypatch.setattr(engine._EventStore, "_write_pending", lambda store: writes.append(write(store)))
    in_memory = analyse_day(LogReader(str(log_root), block_bytes=1 << 20), DAYS[0])
    spilled = analyse_day(
        LogReader(str(log_root), block_bytes=300_000), DAYS[0], bucket_lines=800, in_memory_lines=800
    )
    assert len(writes) == 1 if written_every > 1 << 20 else len(writes) > 2, len(writes)
    assert_frame_equal(in_memory.sessions.sort("key"), spilled.sessions.sort("key"))
    assert_frame_equal(in_memory.rejects, spilled.rejects)
    assert in_memory.counters() == spilled.counters()


def test_missing_day_fails_clearly_unless_allowed(log_root, tmp_path):
    result = run(str(log_root), tmp_path, "2024-03-03", "2024-03-03", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.event_specific_data.error)
    assert f"no log files for 1 day(s): 2024-03-03 under {log_root}/YYYY-MM-DD/ (AGORA_LOG_ROOT)" in message
    # where to act: the run config path and the place in the UI
    assert "ops.agora_session_stats.config.allow_missing_days" in message
    assert "asset agora_session_stats > the arrow beside Materialize > Open launchpad" in message
    allowed = run(str(log_root), tmp_path, "2024-03-03", "2024-03-03", config={"allow_missing_days": True})
    assert allowed.success
    assert pl.read_parquet(tmp_path / "agora_session_stats/date=2024-03-03/part-0.parquet").height == 0


def test_hand_built_day_with_corrupt_gzip_tail_and_blank_lines(tmp_path):
    day = tmp_path / "2024-03-05"
    day.mkdir()
    lines = render([event(0, "MediaStarted"), event(30, "MediaEnded")])
    (day / "a.log").write_text(lines[0] + "\n\n\x00\x01 junk\n")
    (day / "b.log.gz").write_bytes(gzip.compress((lines[1] + "\n").encode()))
    (day / ".hidden").write_text("ignored")
    result = analyse_day(LogReader(str(tmp_path)), date(2024, 3, 5))
    assert result.sessions["playing_duration"].to_list() == [30.0]
    assert result.counters() == {
        "total_events": 4,
        "valid_events": 2,
        "keyless_events": 0,
        "unparsable_events": 2,
        "bad_data_events": 0,
        "total_streams": 1,
    }
    assert result.rejects.select("line_number", "reason").rows() == [(2, "blank"), (3, "bad_timestamp")]


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_gzip_file_fails_the_day_and_names_the_file(tmp_path, damage):
    """A gzip cut short (an upload killed halfway) or garbled loses lines: the day fails, saying which
    file, rather than silently counting fewer lines."""
    day = tmp_path / "2024-03-05"
    day.mkdir()
    lines = "\n".join(render([event(second, "MediaStarted") for second in range(3_000)])) + "\n"
    packed = bytearray(gzip.compress(lines.encode()))
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    else:
        packed[len(packed) // 2 : len(packed) // 2 + 64] = b"\xff" * 64
    (day / "a.log.gz").write_bytes(gzip.compress(lines.encode()))
    (day / "b.log.gz").write_bytes(bytes(packed))
    with pytest.raises(
        LogRootError,
        match=r"cannot read .*2024-03-05/b\.log\.gz: .* \(it inflates to [1-9][\d,]* bytes of text "
        r"\([\d,]+ lines\) before failing\)",
    ):
        analyse_day(LogReader(str(tmp_path)), date(2024, 3, 5))


def test_reads_from_s3(s3_endpoint, s3_bucket, tmp_path):
    root = f"s3://{s3_bucket}/player-logs"
    options = {"endpoint_url": s3_endpoint}
    write_day(root, DAYS[0], 3_000, files=2, gzip_files=True, storage_options=options)
    write_day(str(tmp_path / "local"), DAYS[0], 3_000, files=2, gzip_files=True)
    from_s3 = analyse_day(LogReader(root, options), DAYS[0])
    local = analyse_day(LogReader(str(tmp_path / "local")), DAYS[0])
    assert from_s3.sessions.height > 50  # 3,000 lines, 27% of them keyed (the public sample's mix)
    assert_frame_equal(from_s3.sessions, local.sessions)
    assert from_s3.rejects["file"][0].startswith(f"s3://{s3_bucket}/player-logs/2024-03-01/")
    result = run(root, tmp_path / "lake", "2024-03-01", "2024-03-01", storage_options=options)
    assert result.success
    assert read(tmp_path / "lake", "agora_session_stats").height == from_s3.sessions.height


def test_definitions_and_prepare_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEO_ANALYTICS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AGORA_LOG_ROOT", raising=False)
    monkeypatch.setenv("AGORA_DEMO_LINES", "2000")
    env = agora_demo.prepare_demo(list(DAYS))
    assert env == {"AGORA_LOG_ROOT": str(tmp_path / "data" / "sandbox" / "agora_logs")}
    for day in DAYS:
        assert len(list((Path(env["AGORA_LOG_ROOT"]) / day.isoformat()).glob("*.log.gz"))) == 3
    first = (Path(env["AGORA_LOG_ROOT"]) / "2024-03-01" / "player-000-text.log.gz").stat().st_mtime_ns
    assert agora_demo.prepare_demo([DAYS[0]]) == env  # existing days are kept, not regenerated
    assert (Path(env["AGORA_LOG_ROOT"]) / "2024-03-01" / "player-000-text.log.gz").stat().st_mtime_ns == first
    defs = definitions.build(Settings())
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"agora_session_stats", "agora_rejects", "agora_video_daily_stats"}
    assert [s.name for s in defs.schedules] == ["agora_daily"]
    monkeypatch.setenv("AGORA_LOG_STORAGE_OPTIONS", "not json")
    with pytest.raises(ValueError, match="AGORA_LOG_STORAGE_OPTIONS is not valid JSON"):
        definitions.build(Settings())
