"""Wall time of a DailyMotion backfill driven by the sensor, against its lower bound.

DailyMotion generates at most 2 reports at once and each takes T, so N reports cannot finish before
ceil(N / 2) x T. This serves a backfill (default 90 days, 30 days per report, so N = 3) through the
real sensor, client, runs and lake, with the simulator's report delay set to T, and prints the ratio.

    .venv/bin/python benchmarks/dailymotion_backfill.py --days 90 --delay 5 --max-range 30
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from video_analytics.dailymotion import assets as dma
from video_analytics.dailymotion.resources import dailymotion_resource
from video_analytics.sandbox import SimulatorServer
from video_analytics.sandbox.dailymotion.demo import run_sensor_driven
from video_analytics.sandbox.dailymotion.simulator import DailyMotionSimulator, DailyMotionWorld
from video_analytics.settings import Settings
from video_analytics.storage.targets import io_manager_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--delay", type=float, default=5.0, help="report generation time T, seconds")
    parser.add_argument("--max-range", type=int, default=30, help="days per report")
    parser.add_argument("--scale", choices=("test", "demo"), default="demo")
    args = parser.parse_args()

    today = datetime.now(UTC).date()
    sim = DailyMotionSimulator(DailyMotionWorld(today=today, scale=args.scale))
    sim.knobs.report_delay = args.delay
    last = today - timedelta(days=1)
    window = ((last - timedelta(days=args.days - 1)).isoformat(), last.isoformat())
    with SimulatorServer(sim.app) as server, tempfile.TemporaryDirectory() as lake:
        os.environ.update(sim.env(server.base_url))
        os.environ["VIDEO_ANALYTICS_START_DATE"] = window[0]
        defs = dg.Definitions(
            assets=dma.assets,
            sensors=dma.sensors,
            resources={
                "dailymotion": dailymotion_resource(Settings.from_env(), max_range_days=args.max_range),
                dma.IO_MANAGER_KEY: io_manager_for(Settings.from_env(data_dir=lake), "dailymotion"),
            },
        )
        with dg.DagsterInstance.ephemeral() as instance:
            started = time.monotonic()
            summary = run_sensor_driven(defs, instance, window)
            wall = time.monotonic() - started
    reports = sim.stats.snapshot().get("reports_asked", 0)
    bound = math.ceil(reports / 2) * args.delay
    per_report = f"{args.max_range} days per report, T={args.delay:g}s"
    print(f"backfill {window[0]}..{window[1]} ({args.days} days, {per_report})")
    print(f"reports asked:          {reports} (minimum {math.ceil(args.days / args.max_range)})")
    print(f"hourly rows:            {summary['dm_hourly_reports']['rows']}")
    print(f"daily rows:             {summary['dm_daily_video_stats']['rows']}")
    print(f"wall time:              {wall:.1f}s")
    print(f"lower bound ceil(N/2)T: {bound:.1f}s")
    print(f"ratio:                  {wall / bound:.2f}" if bound else "ratio: n/a")


if __name__ == "__main__":
    main()
