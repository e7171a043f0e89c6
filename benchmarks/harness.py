"""What the source benchmarks share: a simulator served from its own process, and CPU clocks.

A vendor's API runs on the vendor's machines. A simulator served from a thread of the measuring process
would spend that process's CPU (and hold its GIL) building responses, so its cost would be counted as
ours and, on a loaded machine, would slow our client down. `simulator_process` forks a child that
serves the simulator as configured by the parent (knobs set before the call are inherited), and reads
its request counters over the simulator's own admin endpoint (`/_sandbox/stats`).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import httpx

from video_analytics.sandbox import SimulatorServer


def _serve(simulator, ready) -> None:
    with SimulatorServer(simulator.app) as server:
        ready.send(server.base_url)
        ready.recv()  # until the parent says stop (or dies: recv raises EOFError)


@dataclass
class SimulatorProcess:
    base_url: str
    process: multiprocessing.Process = field(repr=False)

    def stats(self) -> dict:
        return httpx.get(f"{self.base_url}/_sandbox/stats", timeout=30).json()


@contextmanager
def simulator_process(simulator) -> Iterator[SimulatorProcess]:
    """Serve `simulator` on 127.0.0.1 from a forked child process until the block ends."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(simulator, child), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the simulator process did not start within 60 s")
        yield SimulatorProcess(parent.recv(), process)
    finally:
        with suppress(OSError):
            parent.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


@dataclass
class Clocks:
    """Wall seconds and CPU seconds (user + system, every thread) of this process over a block."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def measured() -> Iterator[Clocks]:
    clocks = Clocks()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield clocks
    finally:
        clocks.wall = time.perf_counter() - wall
        clocks.cpu = time.process_time() - cpu


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())
