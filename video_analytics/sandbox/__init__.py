"""Everything that exists only for the offline sandbox; production code never imports it.

- `registry.py`: one `SandboxSource` per source (demo steps, simulator, demo hooks): start here.
- `server.py`: what every simulator is built on (request pipeline, faults, stats, clock, HTTP server);
  `launcher.py`: `Sandbox`, which serves every simulator on 127.0.0.1 (`python -m video_analytics.sandbox`).
- `<source>/simulator.py`: one vendor API's simulator; `agora/generator.py`: Agora's player logs;
  `<source>/demo.py`: a source's demo steps that need more than one plain run, and its demo hooks.
- `demo.py`, `demo_steps.py`, `start_date.py`: `video-analytics demo` and where its partitions start.

`Sandbox`, `SimulatorServer`, `BaseSimulator`, `Faults` and `Stats` are importable from here; they load
on first use, so importing the log generator (in the demo's worker processes) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from video_analytics.sandbox.launcher import Sandbox
    from video_analytics.sandbox.server import BaseSimulator, Faults, SimulatorServer, Stats

__all__ = ["BaseSimulator", "Faults", "Sandbox", "SimulatorServer", "Stats"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from video_analytics.sandbox.launcher import Sandbox

        return Sandbox
    if name in __all__:
        from video_analytics.sandbox import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
