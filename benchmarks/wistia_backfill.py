"""Wistia: what a backfill costs in API requests and time, and how fast the pure transforms are.

    .venv/bin/python benchmarks/wistia_backfill.py --days 30
    .venv/bin/python benchmarks/wistia_backfill.py --days 90 --rpm 600   # at Wistia's real limit

Serves the demo-scale simulator (420 media, ~2,000 events a day) on 127.0.0.1 with a plan limit of
`--rpm` requests a minute, runs every Wistia asset for `--days` days in one Dagster run into a temporary
Parquet lake, and prints requests per endpoint, wall time and rows. Then times `transforms.fact_events`
and `transforms.dim_visitors` on the events of that range (rows/s), which is what a re-run pays without
the API. The original called the API per media (it had 2 hard-coded), so its request count for every
media is printed for comparison.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg

from video_analytics.sandbox import SimulatorServer
from video_analytics.sandbox.wistia.simulator import WistiaKnobs, WistiaSimulator, WistiaWorld
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.wistia import assets as wa
from video_analytics.wistia import transforms
from video_analytics.wistia.resources import WistiaResource


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rpm", type=int, default=12_000, help="the simulated account's requests/minute")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    end = today - timedelta(days=1)
    start = end - timedelta(days=args.days - 1)
    sim = WistiaSimulator(
        WistiaWorld(today=today, scale="demo"), knobs=WistiaKnobs(requests_per_minute=args.rpm)
    )
    with SimulatorServer(sim.app) as server, tempfile.TemporaryDirectory() as lake:
        env = sim.env(server.base_url)
        wistia = WistiaResource(
            api_token=env["WISTIA_API_TOKEN"],
            base_url=env["WISTIA_BASE_URL"],
            requests_per_minute=float(env["WISTIA_REQUESTS_PER_MINUTE"]),
        )
        began = time.perf_counter()
        result = dg.materialize(
            wa.assets,
            resources={"wistia": wistia, "wistia_io_manager": ParquetLakeIOManager(root=lake)},
            tags={
                "dagster/asset_partition_range_start": str(start),
                "dagster/asset_partition_range_end": str(end),
            },
        )
        elapsed = time.perf_counter() - began
        assert result.success
        stats = sim.stats.snapshot()
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        name = event.materialization.asset_key.to_user_string()
        rows[name] = max(rows.get(name, 0), int(event.materialization.metadata["dagster/row_count"].value))
    total = sum(stats["requests"].values())
    print(
        f"backfill {start}..{end} ({args.days} days), plan limit {args.rpm}/min, {len(sim.world.media)} media"
    )
    rate = total / elapsed
    print(f"  wall time {elapsed:.1f}s, {total} requests ({rate:.0f}/s), throttled {stats['throttled']}")
    for endpoint, count in sorted(stats["requests"].items()):
        print(f"  {endpoint:<20}{count:>8}")
    for name, count in sorted(rows.items()):
        print(f"  {name:<32}{count:>10} rows")
    raw = [e for d in range(args.days) for e in sim.world.events((start + timedelta(days=d)).toordinal())]
    months = math.ceil(args.days / 30)
    per_media = Counter(e["media_id"] for e in raw)
    # Per media: show + stats + engagement, then per month one by_date and events pages until an empty one.
    original = sum(
        3 + months * 2 + math.ceil(per_media[m.record["hashed_id"]] / 100) for m in sim.world.media
    )
    print(f"  the original's per-media pattern, applied to every media, would need ~{original} requests")

    began = time.perf_counter()
    events = transforms.fact_events(raw)
    t_events = time.perf_counter() - began
    began = time.perf_counter()
    visitors = transforms.dim_visitors(events)
    t_visitors = time.perf_counter() - began
    print(f"  transforms.fact_events: {len(raw)} events in {t_events:.2f}s ({len(raw) / t_events:,.0f}/s)")
    print(f"  transforms.dim_visitors: {visitors.height} visitors in {t_visitors:.3f}s")


if __name__ == "__main__":
    main()
