"""Agora scale-out and scale-up, side by side in one run:

  * days/minute of a multi-day backfill with 1 vs 2 workers — each worker a process pinned to a core
    of its own (what a celery worker with `--concurrency=1` on a one-core machine is), taking one day
    at a time from a shared queue, as the backfill's one-run-per-day policy hands them out;
  * lines/s of one day's `engine.analyse_day` with the scanner on 1 vs 2 threads (one process).

    .venv/bin/python benchmarks/agora_scaleout.py --days 6 --lines 500000

Generates the days with the sandbox generator under `--dir` (kept with --keep). On a 2-core box the
2-worker figure is bounded by the cores; on real workers each brings its own. Figures vary with load:
run it on a quiet machine, and more than once.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

FIRST_DAY = date(2024, 3, 1)


def _generate(folder: str, day: date, lines: int, files: int) -> None:
    from video_analytics.sandbox.agora.generator import write_day

    write_day(folder, day, lines, files=files)


def generate(folder: Path, days: list[date], lines: int, files: int) -> None:
    missing = [d for d in days if not (folder / d.isoformat()).exists()]
    context = multiprocessing.get_context("spawn")
    with context.Pool(os.cpu_count() or 1) as pool:
        pool.starmap(_generate, [(str(folder), d, lines, files) for d in missing])


def _worker(core: int, folder: str, queue, done) -> None:
    """One worker: pinned to `core`, analyses days from the queue until it is empty."""
    os.sched_setaffinity(0, {core})
    from video_analytics.agora import engine
    from video_analytics.agora.client import LogReader

    while True:
        day = queue.get()
        if day is None:
            return
        result = engine.analyse_day(LogReader(folder), day)  # scanner threads: the one core given
        done.put((day, result.lines))


def days_per_minute(folder: Path, days: list[date], workers: int) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    queue, done = context.Queue(), context.Queue()
    cores = sorted(os.sched_getaffinity(0))
    processes = [
        context.Process(target=_worker, args=(cores[n % len(cores)], str(folder), queue, done))
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    # warm-up: every worker imports the platform before the clock starts
    warm = days[:workers]
    for day in warm:
        queue.put(day)
    for _ in warm:
        done.get()
    started = time.perf_counter()
    for day in days:
        queue.put(day)
    lines = sum(done.get()[1] for _ in days)
    elapsed = time.perf_counter() - started
    for _ in processes:
        queue.put(None)
    for process in processes:
        process.join()
    return len(days) / elapsed * 60, lines


def lines_per_second(folder: Path, day: date, threads: int, repeats: int) -> float:
    from video_analytics.agora import engine
    from video_analytics.agora.client import LogReader

    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        result = engine.analyse_day(LogReader(str(folder)), day, scan_threads=threads)
        best = max(best, result.lines / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=6, help="days of the backfill")
    parser.add_argument("--lines", type=int, default=500_000, help="log lines per day")
    parser.add_argument("--files", type=int, default=2, help="log files per day")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the thread measurement (best kept)")
    parser.add_argument("--dir", default="/tmp/agora_scaleout")
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    args = parser.parse_args()

    from video_analytics.agora import linescan

    folder = Path(args.dir)
    days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    generate(folder, days, args.lines, args.files)
    try:
        native = linescan.available()
        print(f"{args.days} days x {args.lines:,} lines, {os.cpu_count()} cores, native scanner: {native}")
        print(f"{'':<28}{'1':>14}{'2':>14}{'2 vs 1':>10}")
        one, lines = days_per_minute(folder, days, 1)
        two, _ = days_per_minute(folder, days, 2)
        print(f"{'backfill days/minute':<28}{one:>14.1f}{two:>14.1f}{two / one:>9.2f}x   (workers)")
        print(
            f"{'  = lines/s':<28}{one * lines / len(days) / 60:>14,.0f}{two * lines / len(days) / 60:>14,.0f}"
        )
        single = lines_per_second(folder, days[0], 1, args.repeats)
        double = lines_per_second(folder, days[0], 2, args.repeats)
        ratio = double / single
        print(f"{'one day, lines/s':<28}{single:>14,.0f}{double:>14,.0f}{ratio:>9.2f}x   (scanner threads)")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
