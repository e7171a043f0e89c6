"""Wistia: a backfill's wall time against the bound the account's rate limit sets, and its CPU.

    .venv/bin/python benchmarks/wistia_backfill.py --days 30               # the sandbox's 12,000/min
    .venv/bin/python benchmarks/wistia_backfill.py --days 30 --rpm 600     # Wistia's real limit

Serves the demo-scale simulator (420 media, ~2,000 events a day) from its own process with a plan limit
of `--rpm` requests a minute, runs every Wistia asset for `--days` days in one Dagster run into a
temporary Parquet lake, and prints requests per endpoint, wall time, this process's CPU seconds and
the ratio of wall time to the rate-limit bound: requests / (rpm / 60) s, the time the vendor's limit
alone forces on the requests the run made. Then times `transforms.fact_events` and
`transforms.dim_visitors` on the events of that range (rows/s), which is what a re-run pays without
the API.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
from harness import load_average, measured, simulator_process

from video_analytics.sandbox.wistia.simulator import WistiaKnobs, WistiaSimulator, WistiaWorld
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.wistia import assets as wa
from video_analytics.wistia import transforms
from video_analytics.wistia.resources import WistiaResource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rpm", type=int, default=12_000, help="the simulated account's requests/minute")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    end = today - timedelta(days=1)
    start = end - timedelta(days=args.days - 1)
    sim = WistiaSimulator(
        WistiaWorld(today=today, scale="demo"), knobs=WistiaKnobs(requests_per_minute=args.rpm)
    )
    with simulator_process(sim) as server, tempfile.TemporaryDirectory() as lake:
        env = sim.env(server.base_url)
        wistia = WistiaResource(
            api_token=env["WISTIA_API_TOKEN"],
            base_url=env["WISTIA_BASE_URL"],
            requests_per_minute=float(env["WISTIA_REQUESTS_PER_MINUTE"]),
        )
        with measured() as clocks:
            result = dg.materialize(
                wa.assets,
                resources={"wistia": wistia, "wistia_io_manager": ParquetLakeIOManager(root=lake)},
                tags={
                    "dagster/asset_partition_range_start": str(start),
                    "dagster/asset_partition_range_end": str(end),
                },
            )
        assert result.success
        stats = server.stats()
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        name = event.materialization.asset_key.to_user_string()
        rows[name] = rows.get(name, 0) + int(event.materialization.metadata["dagster/row_count"].value)
    total = sum(stats["requests"].values())
    bound = total / (args.rpm / 60)
    print(
        f"backfill {start}..{end} ({args.days} days), plan limit {args.rpm}/min, {len(sim.world.media)} media"
    )
    print(f"  load average {load_average()}")
    print(f"  {total} requests, throttled {stats.get('rate_limited', 0)}")
    for endpoint, count in sorted(stats["requests"].items()):
        print(f"    {endpoint:<20}{count:>8}")
    for name, count in sorted(rows.items()):
        print(f"  {name:<32}{count:>10} rows")
    print(f"  wall time            {clocks.wall:.1f} s")
    print(f"  CPU (this process)   {clocks.cpu:.1f} s")
    print(f"  rate-limit bound     {bound:.1f} s ({total} requests at {args.rpm}/min)")
    print(f"  ratio wall / bound   {clocks.wall / bound:.2f}")
    print(f"  ratio CPU / bound    {clocks.cpu / bound:.2f}")

    raw = [e for d in range(args.days) for e in sim.world.events((start + timedelta(days=d)).toordinal())]
    began = time.process_time()
    events = transforms.fact_events(raw)
    t_events = time.process_time() - began
    began = time.process_time()
    visitors = transforms.dim_visitors(events)
    t_visitors = time.process_time() - began
    print(
        f"  transforms.fact_events: {len(raw)} events in {t_events:.2f} CPU-s ({len(raw) / t_events:,.0f}/s)"
    )
    print(f"  transforms.dim_visitors: {visitors.height} visitors in {t_visitors:.3f} CPU-s")


if __name__ == "__main__":
    main()
