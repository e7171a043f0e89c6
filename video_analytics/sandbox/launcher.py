"""`Sandbox`: starts the simulator of every source in the registry on 127.0.0.1, and `env()` points the
real clients at them. `python -m video_analytics.sandbox` runs it and prints the `export` lines."""

from __future__ import annotations

import argparse
import shlex
import time
from datetime import UTC, date, datetime

from video_analytics.sandbox.registry import SANDBOX_SOURCES
from video_analytics.sandbox.server import BaseSimulator, SimulatorServer

SCALES = ("test", "demo")


class Sandbox:
    """Starts every registered simulator; `env()` points the real clients at them."""

    # set by start(), one attribute per source with a simulator
    brightcove: BaseSimulator
    dailymotion: BaseSimulator
    tmdb: BaseSimulator
    wistia: BaseSimulator

    def __init__(self, today: date | None = None, scale: str = "demo", seed: int = 7) -> None:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
        self.today = today or datetime.now(UTC).date()
        self.scale, self.seed = scale, seed
        self.simulators: dict[str, BaseSimulator] = {}
        self.servers: dict[str, SimulatorServer] = {}

    def start(self) -> Sandbox:
        for source in SANDBOX_SOURCES:
            if source.simulator is None:
                continue
            sim = source.simulator(self)
            server = SimulatorServer(sim.app)
            server.start()
            self.simulators[source.name], self.servers[source.name] = sim, server
            setattr(self, source.name, sim)
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def url(self, name: str) -> str:
        return self.servers[name].base_url

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, sim in self.simulators.items():
            env.update(sim.env(self.url(name)))
        return env

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the vendor API simulators on 127.0.0.1.")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="simulated today, YYYY-MM-DD")
    parser.add_argument("--scale", choices=SCALES, default="demo")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with Sandbox(today=args.today, scale=args.scale, seed=args.seed) as sandbox:
        for key, value in sandbox.env().items():
            print(f"export {key}={shlex.quote(value)}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
