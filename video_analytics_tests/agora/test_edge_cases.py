"""Agora day folders as they go wrong in practice: empty uploads, misnamed or cut-short gzip files, a
backup copy in a subfolder, invalid UTF-8."""

from __future__ import annotations

import gzip
import io
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from video_analytics.agora import assets as ag
from video_analytics.agora import client, linescan
from video_analytics.agora.client import EmptyDayError, LogReader, LogRootError
from video_analytics.agora.engine import analyse_day
from video_analytics.agora.resources import AgoraLogsResource
from video_analytics.partitions import partition_range_tags
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics_tests.agora.conftest import event, render

DAY = date(2024, 3, 1)


@pytest.fixture(params=["scanner", "polars"])
def parser(request, monkeypatch) -> str:
    """Both readers of a day: the native scanner and the polars-only parser."""
    if request.param == "polars":
        monkeypatch.setattr(linescan, "_linescan", None)
    elif not linescan.available():
        pytest.skip("the native scanner is not built")
    return request.param


def day_folder(tmp_path: Path) -> Path:
    folder = tmp_path / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stream_lines(count: int, **fields) -> str:
    return "\n".join(render([event(second, "MediaStarted", **fields) for second in range(count)])) + "\n"


def test_a_day_of_only_empty_files_is_not_a_quiet_empty_day(tmp_path):
    folder = day_folder(tmp_path / "logs")
    (folder / "a.log").write_bytes(b"")
    (folder / "b.log").write_bytes(b"")
    with pytest.raises(
        EmptyDayError, match=r"every log file under .*2024-03-01/ is empty \(0 bytes\): .*a\.log"
    ):
        analyse_day(LogReader(str(tmp_path / "logs")), DAY)
    resources = {
        "agora_logs": AgoraLogsResource(log_root=str(tmp_path / "logs")),
        "io_manager": ParquetLakeIOManager(root=str(tmp_path / "lake")),
    }
    with pytest.raises(
        dg.Failure,
        match=r"is empty \(0 bytes\).*; nothing was written.*ops\.agora_session_stats\.config\.allow_missing",
    ):
        dg.materialize(ag.assets, resources=resources, tags=partition_range_tags("2024-03-01", "2024-03-01"))


def test_an_empty_file_beside_others_is_warned_about(tmp_path):
    folder = day_folder(tmp_path)
    (folder / "a.log").write_text(stream_lines(3))
    (folder / "b.log").write_bytes(b"")
    warnings: list[str] = []
    result = analyse_day(LogReader(str(tmp_path)), DAY, warn=warnings.append)
    assert result.lines == 3
    assert any("1 empty (0-byte) file(s)" in w and w.endswith("b.log") for w in warnings)


def test_a_gz_file_that_is_not_gzip_names_the_file(tmp_path):
    folder = day_folder(tmp_path)
    (folder / "a.log.gz").write_text(stream_lines(3))  # plain text under a .gz name
    with pytest.raises(LogRootError, match=r"cannot read .*2024-03-01/a\.log\.gz: Not a gzipped file"):
        analyse_day(LogReader(str(tmp_path)), DAY)


def test_a_truncated_gz_says_how_much_of_it_is_readable(tmp_path):
    folder = day_folder(tmp_path)
    packed = gzip.compress(stream_lines(3_000).encode())
    cut = packed[: len(packed) // 2]
    (folder / "a.log.gz").write_bytes(cut)
    # independently: how many bytes the standard library inflates before the end of the data
    readable = bytearray()  # not bytes: `+=` on bytes copies the whole prefix for every byte read
    with gzip.GzipFile(fileobj=io.BytesIO(cut)) as handle:
        try:
            while chunk := handle.read(1):
                readable += chunk
        except EOFError:
            pass
    assert len(readable) > 0
    lines = readable.count(b"\n")
    expected = f"it inflates to {len(readable):,} bytes of text ({lines:,} lines) before failing"
    with pytest.raises(LogRootError) as raised:
        analyse_day(LogReader(str(tmp_path)), DAY)
    assert "a.log.gz" in str(raised.value) and expected in str(raised.value)


def test_a_copy_in_a_subfolder_is_skipped_but_other_subfolders_are_read(tmp_path, parser):
    folder = day_folder(tmp_path)
    (folder / "a.log").write_text(stream_lines(5))
    (folder / "backup").mkdir()
    shutil.copy(folder / "a.log", folder / "backup" / "a.log")
    (folder / "host2").mkdir()
    (folder / "host2" / "b.log").write_text(stream_lines(2, x_tracking_id="42"))
    warnings: list[str] = []
    result = analyse_day(LogReader(str(tmp_path)), DAY, warn=warnings.append)
    assert result.lines == 7 and result.counters()["valid_events"] == 7
    assert sorted(result.sessions["tracking_id"].to_list()) == sorted(
        ["42", result.sessions["tracking_id"][0]]
    )
    assert any(w.endswith("backup/a.log: a byte-for-byte copy of " + str(folder / "a.log")) for w in warnings)


def test_same_sized_files_that_start_differently_are_not_read_whole(tmp_path, monkeypatch):
    """Size-rotated logs share their size: only their first bytes are compared, and only files that
    also start alike are hashed whole (a copy is still found)."""
    folder = day_folder(tmp_path)
    (folder / "a.log").write_text(stream_lines(5))
    (folder / "b.log").write_text(stream_lines(5).replace("Nova", "Nava"))  # same size, other bytes
    shutil.copy(folder / "a.log", folder / "c.log")
    hashed = []
    digest = client._digest
    monkeypatch.setattr(client, "_digest", lambda fs, path: hashed.append(path) or digest(fs, path))
    reader = LogReader(str(tmp_path))
    assert [f.rsplit("/", 1)[-1] for f in reader.day_files(DAY)] == ["a.log", "b.log"]
    assert sorted(p.rsplit("/", 1)[-1] for p in hashed) == ["a.log", "c.log"]


def test_invalid_utf8_is_replaced_and_counted_with_its_line(tmp_path, parser):
    folder = day_folder(tmp_path)
    lines = stream_lines(4).encode().split(b"\n")
    lines[2] = lines[2].replace(b"Nova Episode 1", b"Nova \xff\xfe Episode")
    (folder / "a.log").write_bytes(b"\n".join(lines))
    warnings: list[str] = []
    result = analyse_day(LogReader(str(tmp_path)), DAY, warn=warnings.append)
    assert result.utf8_replaced.rows() == [(str(folder / "a.log"), 3)]
    assert result.counters()["valid_events"] == 4  # the line still counts
    assert any("1 line(s) held invalid UTF-8" in w and "a.log line 3" in w for w in warnings)
