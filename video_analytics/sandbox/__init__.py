"""Everything that exists only for the offline sandbox; production code never imports it.

- `server.py`: the simulator pipeline (faults, stats, clock) and `Sandbox`, which serves every
  simulator on 127.0.0.1 (`python -m video_analytics.sandbox`).
- `<source>/simulator.py`: one vendor API's simulator; `agora/generator.py`: Agora's player logs;
  `unified/video_mapping.py`: the demo's cross-platform mapping file.
- `demo.py`, `demo_steps.py`, `start_date.py`: `video-analytics demo` and where its partitions start.

`Sandbox`, `SimulatorServer`, `BaseSimulator`, `Faults` and `Stats` are importable from here; they load
`server.py` (uvicorn, starlette) on first use, so importing the log generator stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from video_analytics.sandbox.server import BaseSimulator, Faults, Sandbox, SimulatorServer, Stats

__all__ = ["BaseSimulator", "Faults", "Sandbox", "SimulatorServer", "Stats"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from video_analytics.sandbox import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
