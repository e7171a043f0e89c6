"""Brightcove: CPU per row of a backfill through Dagster, at 1x and 4x the rows, and its requests.

The cost of a Brightcove backfill should grow with the rows it loads, not with the requests it makes
or the days it spans. This serves the simulator (`--videos` per account, `--accounts` accounts) from
its own process, materializes `cms_videos` once, then `daily_video_metrics` and
`recently_viewed_videos` for `--days` days and for 4x as many days (about 4x the rows), each in one
single-run backfill into a temporary Parquet lake, and prints per asset: requests, rows written, CPU
seconds of this process, CPU microseconds per row, and the ratio of CPU per row 4x / 1x (1.0 = linear).

    .venv/bin/python benchmarks/brightcove_requests.py --videos 2000 --accounts 5 --days 30
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date, timedelta

import dagster as dg
from harness import load_average, measured, simulator_process

from video_analytics.brightcove import assets as ba
from video_analytics.brightcove.resources import BrightcoveResource
from video_analytics.sandbox.brightcove.simulator import BrightcoveSimulator, BrightcoveWorld
from video_analytics.storage.parquet import ParquetLakeIOManager

MEASURED = ("daily_video_metrics", "recently_viewed_videos")


def backfill(resources: dict, asset, start: date, end: date) -> dict[str, float]:
    """One single-run backfill of `asset` (cms_videos read from the lake): requests, rows, CPU-s."""
    with measured() as clocks:
        result = dg.materialize(
            [ba.cms_videos, asset],
            selection=[asset],
            resources=resources,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            },
        )
    assert result.success
    events = result.get_asset_materialization_events()
    metadata = events[0].materialization.metadata
    rows = sum(int(e.materialization.metadata["dagster/row_count"].value) for e in events)
    return {
        "requests": int(metadata["api_requests"].value),
        "rows": rows,
        "cpu": clocks.cpu,
        "wall": clocks.wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2000, help="videos per account")
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument(
        "--days", type=int, default=30, help="days of the 1x backfill (4x: four times as many)"
    )
    args = parser.parse_args()

    today = date(2025, 1, 1)
    world = BrightcoveWorld(videos_per_account=args.videos, today=today)
    world.accounts = dict(list(world.accounts.items())[: args.accounts])
    simulator = BrightcoveSimulator(world)
    simulator.knobs.rate_limit_enabled = False
    end = today - timedelta(days=1)
    with simulator_process(simulator) as server, tempfile.TemporaryDirectory() as lake:
        env = simulator.env(server.base_url)
        resource = BrightcoveResource(
            client_id=env["BRIGHTCOVE_CLIENT_ID"],
            client_secret=env["BRIGHTCOVE_CLIENT_SECRET"],
            accounts=json.loads(env["BRIGHTCOVE_ACCOUNTS"]),
            oauth_url=env["BRIGHTCOVE_OAUTH_URL"],
            cms_url=env["BRIGHTCOVE_CMS_URL"],
            analytics_url=env["BRIGHTCOVE_ANALYTICS_URL"],
        )
        resources = {"brightcove": resource, "io_manager": ParquetLakeIOManager(root=lake)}
        assert dg.materialize([ba.cms_videos], resources=resources).success
        # A warm-up day loads Dagster's execution code, so the 1x run does not pay for it.
        backfill(resources, ba.daily_video_metrics, end, end)
        figures = {}
        for scale in (1, 4):
            start = end - timedelta(days=args.days * scale - 1)
            for asset in (ba.daily_video_metrics, ba.recently_viewed_videos):
                figures[asset.key.to_user_string(), scale] = backfill(resources, asset, start, end)
    print(
        f"brightcove: {args.accounts} accounts x {args.videos} videos, {args.days} and {4 * args.days} days"
    )
    print(f"load average: {load_average()}")
    for name in MEASURED:
        one, four = figures[name, 1], figures[name, 4]
        for scale, entry in ((1, one), (4, four)):
            per_row = entry["cpu"] / max(entry["rows"], 1) * 1e6
            print(
                f"  {name:<24} {scale}x: {entry['requests']:>4} requests {entry['rows']:>9} rows "
                f"{entry['cpu']:>6.2f} CPU-s {per_row:>6.1f} CPU-us/row (wall {entry['wall']:.1f} s)"
            )
        ratio = (four["cpu"] / max(four["rows"], 1)) / (one["cpu"] / max(one["rows"], 1))
        print(f"  {name:<24} CPU per row 4x / 1x: {ratio:.2f}")


if __name__ == "__main__":
    main()
