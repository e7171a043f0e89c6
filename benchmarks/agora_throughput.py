"""Agora throughput: parse + aggregate of `agora_session_stats` on one generated day, vs plain Python.

    .venv/bin/python benchmarks/agora_throughput.py --lines 1000000
    .venv/bin/python benchmarks/agora_throughput.py --lines 10000000 --files 4   # peak memory
    .venv/bin/python benchmarks/agora_throughput.py --lines 1000000 --gzip       # incl. decompression
    .venv/bin/python benchmarks/agora_throughput.py --lines 1000000 --format json  # fluentd JSON lines
    .venv/bin/python benchmarks/agora_throughput.py --lines 1000000 --custom-fields  # as the asset runs

Generates N lines with the sandbox generator (in child processes, so their memory does not count)
into `<dir>/<day>/`, then in this process measures:
  * plain Python line iteration over the same files (`for line in handle`), the floor any
    line-by-line implementation (like the original mrjob job) pays before doing any work;
  * `engine.analyse_day` — read, parse, key, aggregate to one row per stream;
and prints lines/s of each run, the best and the median, the ratio of the best runs, and the peak RSS
of this process (resource.getrusage) over all runs.
The generated files are deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import resource
import shutil
import statistics
import time
from datetime import date
from pathlib import Path

DAY = date(2024, 3, 1)


def _generate(path: str, lines: int, seed: int, compress: bool, fmt: str) -> None:
    from video_analytics.agora.generator import write_local_file

    write_local_file(path, lines, DAY, seed=seed, fmt=fmt)
    if compress:
        with open(path, "rb") as source, gzip.open(f"{path}.gz", "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 16 * 1024 * 1024)
        os.remove(path)


def generate(folder: Path, lines: int, files: int, compress: bool, fmt: str) -> list[Path]:
    day = folder / DAY.isoformat()
    day.mkdir(parents=True, exist_ok=True)
    paths = [day / f"player-{n:03d}.log" for n in range(files)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(files, os.cpu_count() or 1)) as pool:
        pool.starmap(_generate, [(str(p), lines // files, 7 + n, compress, fmt) for n, p in enumerate(paths)])
    return sorted(day.glob("*.log*"))


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--files", type=int, default=2, help="files in the day folder (generated in parallel)"
    )
    parser.add_argument("--dir", default="/tmp/agora_bench")
    parser.add_argument("--gzip", action="store_true", help="gzip the files (measures decompression too)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="the logger's text lines or fluentd JSON"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    parser.add_argument(
        "--reuse", action="store_true", help="measure logs kept by an earlier --keep run (and keep them)"
    )
    parser.add_argument(
        "--custom-fields",
        action="store_true",
        help="also aggregate the built-in custom x_* fields, as the agora_session_stats asset does",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="measurements (this shared machine's speed varies by ±20%%)"
    )
    args = parser.parse_args()

    folder = Path(args.dir)
    started = time.perf_counter()
    if args.reuse:
        paths = sorted((folder / DAY.isoformat()).glob("*.log*"))
    else:
        shutil.rmtree(folder, ignore_errors=True)
        paths = generate(folder, args.lines, args.files, args.gzip, args.format)
    size = sum(p.stat().st_size for p in paths)
    verb = "reused" if args.reuse else "generated"
    kind = "gzipped" if any(p.suffix == ".gz" for p in paths) else "plain"
    print(f"{verb} {size / 1e9:.2f} GB of {kind} logs in {time.perf_counter() - started:.1f}s")
    try:
        from video_analytics.agora.client import LogReader
        from video_analytics.agora.custom_fields import BUILT_IN
        from video_analytics.agora.engine import analyse_day

        fields = BUILT_IN if args.custom_fields else ()

        print(f"peak RSS before measuring: {peak_rss_mb():.0f} MB; load average {os.getloadavg()[0]:.1f}")
        python_runs, agora_runs = [], []
        for run in range(1, args.repeat + 1):
            lines, python_s = python_iteration(paths)
            python_runs.append(python_s)
            started, cpu_started = time.perf_counter(), time.process_time()
            result = analyse_day(LogReader(str(folder)), DAY, fields=fields)
            agora_s, agora_cpu = time.perf_counter() - started, time.process_time() - cpu_started
            agora_runs.append(agora_s)
            print(
                f"run {run}: plain Python iteration {lines / python_s:,.0f} lines/s; parse + aggregate "
                f"{result.lines:,} lines in {agora_s:.2f}s = {result.lines / agora_s:,.0f} lines/s, "
                f"{agora_cpu:.2f}s CPU ({result.sessions.height:,} streams, "
                f"{result.rejects.height:,} rejects)"
            )
        best, median = min(agora_runs), statistics.median(agora_runs)
        print(
            f"parse + aggregate: best {result.lines / best:,.0f} lines/s, "
            f"median {result.lines / median:,.0f} lines/s over {args.repeat} run(s)"
        )
        print(
            f"plain Python iteration: best {lines / min(python_runs):,.0f} lines/s; ratio (best to best) "
            f"{min(python_runs) / best:.2f}x"
        )
        print(
            f"peak RSS: {peak_rss_mb():.0f} MB; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        print(f"counters: {result.counters()}")
    finally:
        if not (args.keep or args.reuse):  # reused logs belong to the run that kept them
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
