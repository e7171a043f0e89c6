"""TMDB initial load of the 1000 most popular movies against the simulator (50 ms latency, 40 req/s).

The simulator is served from its own process (as TMDB's servers would be). Prints the requests made,
the wall time, this process's CPU seconds, and the ratio to the bound the rate limit sets
(requests / 40 s): 1.0 would be a client that uses every request TMDB allows from the first instant.

    .venv/bin/python benchmarks/tmdb_initial_load.py [--movies 1000] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date

import dagster as dg
from harness import load_average, measured, simulator_process

from video_analytics.sandbox.tmdb.simulator import SANDBOX_API_KEY, TMDBSimulator, TMDBWorld
from video_analytics.storage.parquet import ParquetLakeIOManager
from video_analytics.tmdb import assets
from video_analytics.tmdb.resources import TMDBResource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    sim = TMDBSimulator(TMDBWorld(today=date(2024, 3, 1), scale="demo"))
    sim.set_knobs({"latency": args.latency, "max_rps": 40.0, "burst": 40})
    limit = sim.knobs.max_rps
    with simulator_process(sim) as server, tempfile.TemporaryDirectory() as lake:
        resource = TMDBResource(api_key=SANDBOX_API_KEY, base_url=server.base_url + "/3")
        config = {"ops": {"tmdb_movies": {"config": {"initial_movies": args.movies}}}}
        with measured() as clocks:
            result = dg.materialize(
                [assets.tmdb_movies],
                resources={"tmdb": resource, "tmdb_io_manager": ParquetLakeIOManager(root=lake)},
                run_config=config,
            )
        stats = server.stats()
    wall = clocks.wall
    requests = sum(stats["requests"].values())
    rows = result.get_asset_materialization_events()[0].materialization.metadata["movies"].value
    bound = requests / limit
    print(f"movies loaded:        {rows}")
    print(f"requests:             {requests} {stats['requests']}")
    print(f"throttled (429):      {stats.get('throttled', 0)}")
    print(f"load average:         {load_average()}")
    print(f"wall time:            {wall:.2f} s (Dagster run included)")
    print(f"CPU (this process):   {clocks.cpu:.2f} s")
    print(f"rate-limit bound:     {bound:.2f} s ({requests} requests / {limit:g} per s)")
    print(f"ratio to bound:       {wall / bound:.3f}")


if __name__ == "__main__":
    main()
