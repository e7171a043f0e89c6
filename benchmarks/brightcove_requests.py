"""HTTP requests and wall time of a Brightcove backfill: our bulk method against the original's.

The original (`3_daily.py`) made two analytics calls per video (metrics, then device views) over the
whole date range. We ask per account and date range. Both run against the simulator with the same
latency. The original's wall time is measured on a sample of videos and extrapolated (its request
count is exact: two per video), so the benchmark finishes in minutes, not hours.

    .venv/bin/python benchmarks/brightcove_requests.py --videos 2000 --days 365 --latency 0.05
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from video_analytics.brightcove.client import DAILY_METRIC_FIELDS, BrightcoveClient
from video_analytics.sandbox import SimulatorServer
from video_analytics.sandbox.brightcove.simulator import BrightcoveSimulator, BrightcoveWorld


def client_for(env: dict[str, str]) -> BrightcoveClient:
    return BrightcoveClient(
        env["BRIGHTCOVE_CLIENT_ID"],
        env["BRIGHTCOVE_CLIENT_SECRET"],
        oauth_url=env["BRIGHTCOVE_OAUTH_URL"],
        cms_url=env["BRIGHTCOVE_CMS_URL"],
        analytics_url=env["BRIGHTCOVE_ANALYTICS_URL"],
    )


def ours(env: dict[str, str], accounts: list[str], start: date, end: date) -> tuple[int, float, set]:
    """Our backfill: bulk metrics and device views per account; returns requests, seconds, videos."""
    started = time.monotonic()
    videos: set[tuple[str, str]] = set()
    with client_for(env) as client:
        for account in accounts:
            rows = client.daily_metrics(account, start, end)
            client.daily_device_views(account, start, end)
            videos.update((account, str(r["video"])) for r in rows)
        return client.counters()["api_requests"], time.monotonic() - started, videos


def original(env: dict[str, str], sample: list[tuple[str, str]], start: date, end: date) -> tuple[int, float]:
    """The original's per-video calls for a sample of videos; returns requests and seconds."""
    started = time.monotonic()
    common = {"from": start.isoformat(), "to": end.isoformat()}
    with client_for(env) as client:
        for account, video in sample:
            base = {"accounts": account, "where": f"video=={video}", **common}
            fields = ",".join(("video", "date", *DAILY_METRIC_FIELDS))
            metrics = {"dimensions": "video,date", "fields": fields}
            client.analytics.get_json("data", {**base, **metrics, "limit": 5000})
            device = {"dimensions": "video,date,device_type", "fields": "video,date,device_type,video_view"}
            client.analytics.get_json("data", {**base, **device, "limit": 10000})
        return client.analytics.counters.requests, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2000, help="videos per account")
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to each response")
    parser.add_argument("--sample", type=int, default=40, help="videos timed with the original's method")
    args = parser.parse_args()

    today = date(2025, 1, 1)
    world = BrightcoveWorld(videos_per_account=args.videos, today=today)
    accounts = list(world.catalogs)[: args.accounts]
    simulator = BrightcoveSimulator(world)
    simulator.faults.update(latency=args.latency)
    simulator.knobs.rate_limit_enabled = False
    end = today - timedelta(days=1)
    start = end - timedelta(days=args.days - 1)
    with SimulatorServer(simulator.app) as server:
        env = simulator.env(server.base_url)
        our_requests, our_seconds, viewed = ours(env, accounts, start, end)
        sample = sorted(viewed)[:: max(1, len(viewed) // args.sample)][: args.sample]
        sample_requests, sample_seconds = original(env, sample, start, end)

    original_requests = 2 * len(viewed)  # two calls per video with views in the range
    original_seconds = sample_seconds / len(sample) * len(viewed)
    print(f"backfill: {len(accounts)} accounts x {args.videos} videos, {args.days} days")
    print(f"simulator latency: {args.latency}s per response")
    print(f"videos with views in the range: {len(viewed)}")
    print(f"ours:     {our_requests:>8} requests  {our_seconds:>9.1f} s")
    print(
        f"original: {original_requests:>8} requests  {original_seconds:>9.1f} s"
        f"  (time extrapolated from {len(sample)} videos, {sample_requests} requests)"
    )
    print(f"requests ratio ours/original: {our_requests / original_requests:.3%}")
    print(f"wall-time ratio ours/original: {our_seconds / original_seconds:.3%}")


if __name__ == "__main__":
    main()
