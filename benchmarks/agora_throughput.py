"""Agora throughput on production-like logs: the engine and the asset materialization vs plain Python.

    .venv/bin/python benchmarks/agora_throughput.py                            # 1M lines, public mix
    .venv/bin/python benchmarks/agora_throughput.py --lines 1000000 10000000   # CPU per line, 1M -> 10M
    .venv/bin/python benchmarks/agora_throughput.py --mix portal                # the old portal-only mix
    .venv/bin/python benchmarks/agora_throughput.py --gzip --format json        # decompression, fluentd
    .venv/bin/python benchmarks/agora_throughput.py --custom-fields            # engine with the x_* fields
    .venv/bin/python benchmarks/agora_throughput.py --memory --lines 10000000 10000000 --keep
                                        # peak RSS: each day alone, then both in one run (child processes)

Days are generated with the sandbox generator's `LineMix` (default: the line shapes of PBS's public
GoonHilly sample, 73% keyless lines). Up to 1M lines are generated (in child processes, so their
memory does not count); a bigger day is that day plus copies whose tracking ids carry a copy prefix
(distinct streams, the same shapes: generating 10M lines in Python would take longer than measuring).
Then, in this process, for each day size:
  * plain Python line iteration over the same files (`for line in handle`): the floor any
    line-by-line implementation (like the original mrjob job) pays before doing any work;
  * `engine.analyse_day`: read, parse, key, aggregate to one row per stream (with `--custom-fields`
    also the built-in custom x_* fields, as the asset aggregates them: compare the asset with that);
  * the asset: `dg.materialize` of `agora_session_stats` + `agora_rejects` for that partition into a
    Parquet lake (what a UI or CLI run executes in its step, checks and metadata included);
and prints lines/s, CPU seconds, the ratios to Python iteration, the asset's overhead over the engine,
the CPU per line of each size relative to the first, and the peak RSS of this process.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

FIRST_DAY = date(2024, 3, 1)
BASE_LINES = 1_000_000  # generated; bigger days are copies with distinct tracking ids
MIXES = ("public", "portal")


def _generate(path: str, lines: int, seed: int, day: date, compress: bool, fmt: str, mix: str) -> None:
    from video_analytics.sandbox.agora.generator import PORTAL_ONLY, PUBLIC_SAMPLE, write_local_file

    write_local_file(
        path, lines, day, seed=seed, fmt=fmt, mix=PORTAL_ONLY if mix == "portal" else PUBLIC_SAMPLE
    )
    if compress:
        _gzip(path)


def _gzip(path: str) -> None:
    with open(path, "rb") as source, gzip.open(f"{path}.gz", "wb", compresslevel=6) as target:
        shutil.copyfileobj(source, target, 16 * 1024 * 1024)
    os.remove(path)


def _copy_with_new_ids(source: Path, target: Path, copy: int) -> None:
    """The same lines, every tracking id prefixed by the copy's number: new streams, same shapes."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as handle:
        data = handle.read()
    prefix = f"c{copy:03d}".encode()
    data = data.replace(b" x_tracking_id=", b" x_tracking_id=" + prefix)
    data = data.replace(b'"x_tracking_id":"', b'"x_tracking_id":"' + prefix)
    with gzip.open(target, "wb", compresslevel=6) if source.suffix == ".gz" else open(target, "wb") as out:
        out.write(data)


def generate(
    folder: Path, day: date, lines: int, files: int, compress: bool, fmt: str, mix: str
) -> list[Path]:
    day_folder = folder / day.isoformat()
    day_folder.mkdir(parents=True, exist_ok=True)
    base = min(lines, BASE_LINES)
    paths = [day_folder / f"player-{n:03d}.log" for n in range(files)]
    context = multiprocessing.get_context("spawn")
    jobs = [(str(p), base // files, 7 + n, day, compress, fmt, mix) for n, p in enumerate(paths)]
    with context.Pool(min(files, os.cpu_count() or 1)) as pool:
        pool.starmap(_generate, jobs)
    generated = sorted(day_folder.glob("*.log*"))
    for copy in range(1, -(-lines // base)):
        for path in generated:
            _copy_with_new_ids(path, path.with_name(f"copy{copy:03d}-{path.name}"), copy)
    return sorted(day_folder.glob("*.log*"))


def python_iteration(paths: list[Path]) -> tuple[int, float]:
    """`for line in handle` over every file (gzip.open for .gz): the floor of a line-by-line job."""
    started = time.perf_counter()
    count = 0
    for path in paths:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as handle:
            for _ in handle:
                count += 1
    return count, time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Timing:
    wall: float
    cpu: float  # this process's CPU seconds, all threads


def timed(function) -> tuple[object, Timing]:
    started, cpu_started = time.perf_counter(), time.process_time()
    value = function()
    return value, Timing(time.perf_counter() - started, time.process_time() - cpu_started)


def engine_run(folder: Path, day: date, custom_fields: bool):
    from video_analytics.agora.client import LogReader
    from video_analytics.agora.configuration import BUILT_IN
    from video_analytics.agora.engine import analyse_day

    return analyse_day(LogReader(str(folder)), day, fields=BUILT_IN if custom_fields else ())


_INSTANCE = None


def instance():
    """One ephemeral instance per process, as a run's process has one instance (creating it, an
    in-memory SQLite with its schema, costs 0.3 CPU-s: not the step's cost)."""
    global _INSTANCE
    if _INSTANCE is None:
        import dagster as dg

        _INSTANCE = dg.DagsterInstance.ephemeral()
    return _INSTANCE


def asset_run(folder: Path, day: date, lake: str, last_day: date | None = None):
    """`agora_session_stats` (+ `agora_rejects`) for `day`, or for `day`..`last_day` in one run (a
    single-run backfill of that range)."""
    import dagster as dg

    from video_analytics.agora import assets
    from video_analytics.agora.resources import AgoraLogsResource
    from video_analytics.storage.parquet import ParquetLakeIOManager

    if last_day is None:
        selection = {"partition_key": day.isoformat()}
    else:
        selection = {
            "tags": {
                "dagster/asset_partition_range_start": day.isoformat(),
                "dagster/asset_partition_range_end": last_day.isoformat(),
            }
        }
    result = dg.materialize(
        [assets.agora_session_stats],
        resources={
            "agora_logs": AgoraLogsResource(log_root=str(folder)),
            "io_manager": ParquetLakeIOManager(root=lake),
        },
        instance=instance(),
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        **selection,
    )
    assert result.success
    return result


def _asset_peak_rss(folder: str, day: date, last_day: date | None) -> tuple[float, float, float]:
    """In a fresh child process: warm up, then one materialization; (peak RSS MB, CPU-s, wall s)."""
    warm_up(Path(folder) / "warm-up")
    lake = tempfile.mkdtemp(prefix="agora-bench-lake-")
    try:
        _, timing = timed(lambda: asset_run(Path(folder), day, lake, last_day))
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    return peak_rss_mb(), timing.cpu, timing.wall


def measure_memory(folder: Path, day: date, last_day: date | None = None) -> float:
    """Peak RSS of a process that materializes `day` (or `day`..`last_day` in one run) and nothing
    else: a child of its own, so generation and the other measurements do not count."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1) as pool:
        peak, cpu, wall = pool.apply(_asset_peak_rss, (str(folder), day, last_day))
    days = 1 if last_day is None else (last_day - day).days + 1
    print(
        f"  memory: {days} day(s) from {day} in one run: peak RSS {peak:,.0f} MB "
        f"({cpu:.1f} CPU-s, {wall:.1f}s; warm-up included in the peak)"
    )
    return peak


def warm_up(folder: Path) -> None:
    """One small materialization first: the first one in a process also loads Dagster's execution
    machinery (measured 3 CPU-s), which a run's process pays once, before its step."""
    from video_analytics.sandbox.agora.generator import PORTAL_ONLY, write_day

    write_day(str(folder), FIRST_DAY, 2_000, files=1, mix=PORTAL_ONLY)
    lake = tempfile.mkdtemp(prefix="agora-bench-lake-")
    try:
        asset_run(folder, FIRST_DAY, lake)
    finally:
        shutil.rmtree(lake, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


def measure_day(
    folder: Path, day: date, paths: list[Path], repeat: int, custom_fields: bool
) -> dict[str, float]:
    lake = tempfile.mkdtemp(prefix="agora-bench-lake-")
    python_s, engine, asset = [], [], []
    try:
        for run in range(1, repeat + 1):
            lines, seconds = python_iteration(paths)
            python_s.append(seconds)
            result, engine_t = timed(lambda: engine_run(folder, day, custom_fields))
            engine.append(engine_t)
            _, asset_t = timed(lambda: asset_run(folder, day, lake))
            asset.append(asset_t)
            print(
                f"  run {run}: Python iteration {lines / seconds:,.0f} lines/s; "
                f"engine {lines / engine_t.wall:,.0f} lines/s ({engine_t.cpu:.2f} CPU-s); "
                f"asset {lines / asset_t.wall:,.0f} lines/s "
                f"({asset_t.wall:.2f}s, {asset_t.cpu:.2f} CPU-s); {result.sessions.height:,} streams, "
                f"{result.rejects.height:,} rejects; load {os.getloadavg()[0]:.1f}"
            )
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    best = {
        "lines": lines,
        "python_s": min(python_s),
        "engine_s": min(t.wall for t in engine),
        "asset_s": min(t.wall for t in asset),
        "engine_cpu": statistics.median(t.cpu for t in engine),
        "asset_cpu": statistics.median(t.cpu for t in asset),
    }
    print(
        f"  best of {repeat}: engine {best['python_s'] / best['engine_s']:.2f}x Python iteration, asset "
        f"{best['python_s'] / best['asset_s']:.2f}x; "
        f"asset/engine wall {best['asset_s'] / best['engine_s']:.2f}x, "
        f"CPU {best['asset_cpu'] / best['engine_cpu']:.2f}x; counters {result.counters()}"
    )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000], help="day sizes, one day each")
    parser.add_argument("--files", type=int, default=2, help="generated files per day (in parallel)")
    parser.add_argument("--mix", choices=MIXES, default="public", help="the public sample's or portal-only")
    parser.add_argument("--dir", default="/tmp/agora_bench")
    parser.add_argument("--gzip", action="store_true", help="gzip the files (measures decompression too)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="text lines or fluentd JSON"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    parser.add_argument("--reuse", action="store_true", help="measure logs kept by an earlier --keep run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="measurements per day (a shared machine varies)"
    )
    parser.add_argument(
        "--custom-fields",
        action="store_true",
        help="the engine also aggregates the built-in custom x_* fields, as the asset does",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="peak RSS instead of throughput: each day's materialization in a fresh child process, "
        "then the last --backfill days in one run (a single-run backfill)",
    )
    parser.add_argument("--backfill", type=int, default=0, help="with --memory: days in the one run")
    args = parser.parse_args()

    folder = Path(args.dir)
    days = [FIRST_DAY + timedelta(days=n) for n in range(len(args.lines))]
    started = time.perf_counter()
    if not args.reuse:
        shutil.rmtree(folder, ignore_errors=True)
        for day, lines in zip(days, args.lines, strict=True):
            generate(folder, day, lines, args.files, args.gzip, args.format, args.mix)
    paths = {day: sorted((folder / day.isoformat()).glob("*.log*")) for day in days}
    size = sum(p.stat().st_size for day_paths in paths.values() for p in day_paths)
    print(
        f"{'reused' if args.reuse else 'generated'} {size / 1e9:.2f} GB ({args.mix} mix, {args.format}"
        f"{', gzip' if args.gzip else ''}) in {time.perf_counter() - started:.1f}s"
    )
    try:
        if args.memory:
            for day in days:
                measure_memory(folder, day)
            together = days[-(args.backfill or len(days)) :]
            if len(together) > 1:
                measure_memory(folder, together[0], together[-1])
            return
        warm_up(folder / "warm-up")
        results = []
        for day in days:
            print(f"{day}: {len(paths[day])} files")
            results.append(measure_day(folder, day, paths[day], args.repeat, args.custom_fields))
        first = results[0]
        for best in results:
            per_line = best["engine_cpu"] / best["lines"] / (first["engine_cpu"] / first["lines"])
            asset_per_line = best["asset_cpu"] / best["lines"] / (first["asset_cpu"] / first["lines"])
            print(
                f"{best['lines']:>11,} lines: engine CPU per line {per_line:.2f}x, "
                f"asset {asset_per_line:.2f}x the first day's; "
                f"engine {best['engine_cpu'] * 1e6 / best['lines']:.2f} CPU-µs/line"
            )
        print(
            f"peak RSS: {peak_rss_mb():.0f} MB; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
    finally:
        if not (args.keep or args.reuse):  # reused logs belong to the run that kept them
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
