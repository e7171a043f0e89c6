"""Wall time of a DailyMotion backfill driven by the sensors, against its lower bound.

DailyMotion generates at most 2 reports at once per account and each takes T, so N reports cannot
finish before ceil(N / 2) x T. This serves a backfill (default 90 days, 30 days per report: 3 audience
and 3 earnings reports, N = 6) through the real sensors, client, runs and lake, with the simulator
(served from its own process, as the vendor would be) generating each report in T real seconds, and
prints the wall time, this process's CPU seconds and their ratios to the bound.

    .venv/bin/python benchmarks/dailymotion_backfill.py --days 90 --delay 5 --max-range 30
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
from datetime import UTC, datetime, timedelta

import dagster as dg
from harness import load_average, measured, simulator_process

from video_analytics.dailymotion import assets as dma
from video_analytics.dailymotion import definitions as dmd
from video_analytics.dailymotion import earnings
from video_analytics.sandbox.dailymotion.demo import run_sensor_driven
from video_analytics.sandbox.dailymotion.simulator import DailyMotionSimulator, DailyMotionWorld
from video_analytics.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--delay", type=float, default=5.0, help="report generation time T, seconds")
    parser.add_argument("--max-range", type=int, default=30, help="days per report")
    parser.add_argument("--scale", choices=("test", "demo"), default="demo")
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.WARNING)  # 90 days of DEBUG lines cost CPU of their own

    today = datetime.now(UTC).date()
    sim = DailyMotionSimulator(DailyMotionWorld(today=today, scale=args.scale))
    sim.knobs.report_delay = args.delay
    last = today - timedelta(days=1)
    window = ((last - timedelta(days=args.days - 1)).isoformat(), last.isoformat())
    with simulator_process(sim) as server, tempfile.TemporaryDirectory() as lake:
        os.environ.update(sim.env(server.base_url))
        os.environ["VIDEO_ANALYTICS_START_DATE"] = window[0]
        defs = dg.Definitions(
            assets=[*dma.assets, *earnings.assets],
            asset_checks=dma.asset_checks,
            sensors=[*dma.sensors, *earnings.sensors],
            resources={
                "dailymotion": dmd.resource(Settings(), max_range_days=args.max_range),
                dma.IO_MANAGER_KEY: dmd.io_manager(Settings(data_dir=lake)),
            },
        )
        with dg.DagsterInstance.ephemeral() as instance, measured() as clocks:
            summary = run_sensor_driven(defs, instance, window)
        stats = server.stats()
    reports = stats.get("reports_asked", 0)
    bound = math.ceil(reports / 2) * args.delay
    minimum = 2 * math.ceil(args.days / args.max_range)
    print(
        f"backfill {window[0]}..{window[1]} ({args.days} days, "
        f"{args.max_range} days per report, T={args.delay:g}s)"
    )
    print(f"load average:           {load_average()}")
    print(
        f"reports asked:          {reports} (minimum {minimum}: audience + earnings), refused busy "
        f"{stats.get('reports_refused', 0)}, polls {stats.get('report_polls', 0)}"
    )
    for name in ("dm_hourly_reports", "dm_daily_video_stats", "dm_daily_earnings"):
        entry = summary.get(name, {})
        print(f"{name + ':':<24}{entry.get('rows', 0)} rows, {entry.get('partitions', 0)} partitions")
    print(f"wall time:              {clocks.wall:.1f} s")
    print(f"CPU (this process):     {clocks.cpu:.1f} s")
    print(f"lower bound ceil(N/2)T: {bound:.1f} s")
    print(f"ratio wall / bound:     {clocks.wall / bound:.2f}" if bound else "ratio: n/a")


if __name__ == "__main__":
    main()
