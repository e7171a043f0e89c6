"""What every vendor simulator is built on: the request pipeline, fault knobs, counters, a clock, and
the server that runs a simulator over real HTTP on 127.0.0.1.

The real clients run unchanged against the simulators: only their base URLs and credentials differ,
which `Sandbox.env()` (launcher.py) supplies. Each simulator exposes the same admin surface
(`/_sandbox/faults`, `/_sandbox/stats`) so another process (the Dagster UI, a test) can inject faults
and count requests without sharing memory with the server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclasses.dataclass
class Faults:
    """Fault knobs shared by all simulators; mutated live through `POST /_sandbox/faults`."""

    error_rate: float = 0.0
    error_next: int = 0
    throttle_next: int = 0
    retry_after_header: str = "1"
    latency: float = 0.0
    token_ttl: float = 300.0
    truncate_next: int = 0
    faults_on_token: bool = False
    garble_next: int = 0  # the next N 200 answers are a proxy's HTML page instead of the API's body
    seed: int = 7

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)

    def update(self, **values: Any) -> None:
        """Set several knobs at once; unknown names raise so typos in tests fail loudly."""
        names = {f.name: f.type for f in dataclasses.fields(self)}
        with self._lock:
            for key, value in values.items():
                if key not in names:
                    raise KeyError(key)
                setattr(self, key, value)
                if key == "seed":
                    self._rng = random.Random(value)

    def take(self, name: str) -> bool:
        """Consume one unit of a `*_next` counter; True if the current request is hit."""
        with self._lock:
            left = getattr(self, name)
            if left > 0:
                setattr(self, name, left - 1)
                return True
            return False

    def roll_error(self) -> bool:
        with self._lock:
            return self.error_rate > 0 and self._rng.random() < self.error_rate

    def snapshot(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class Stats:
    """Thread-safe counters that tests read to assert how the client behaved (retries, paging)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.status: Counter[str] = Counter()
            self.extra: Counter[str] = Counter()

    def hit(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1

    def record(self, status: int) -> None:
        with self._lock:
            self.status[str(status)] += 1
            if status == 429:
                self.extra["throttled"] += 1

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.extra[name] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "status": dict(self.status),
                "throttled": self.extra["throttled"],
                **{k: v for k, v in self.extra.items() if k != "throttled"},
            }


Handler = Callable[[Request], Response]
Gate = Callable[[Request, Callable[[], Awaitable[Response]]], Awaitable[Response]]


class BaseSimulator:
    """Common request pipeline: injected faults -> auth -> vendor gate (rate limits) -> handler.

    Subclasses supply `routes()`, `fault_response()` (the vendor's own error bodies) and `env()`.
    `knobs` is an optional dataclass of vendor-specific switches, settable through the same admin call.
    """

    name = "base"

    def __init__(self, seed: int = 7) -> None:
        self.faults = Faults(seed=seed)
        self.stats = Stats()
        self.knobs: Any = None
        self.clock_skew = 0.0
        self.clock_frozen_at: float | None = None
        self.app = Starlette(routes=[*self.routes(), *self.admin_routes()])

    def monotonic(self) -> float:
        """The simulator's clock for token lifetimes and rate windows; tests stop it with
        `freeze_clock` and move it with `advance`, so no test waits on (or races) the wall clock."""
        now = time.monotonic() if self.clock_frozen_at is None else self.clock_frozen_at
        return now + self.clock_skew

    def freeze_clock(self) -> None:
        self.clock_frozen_at = time.monotonic()

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass for the simulator without waiting for them."""
        self.clock_skew += seconds

    # -- to override -------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def fault_response(self, endpoint: str, status: int) -> Response:
        raise NotImplementedError

    def check_auth(self, request: Request, endpoint: str) -> Response | None:
        return None

    def env(self, base_url: str) -> dict[str, str]:
        raise NotImplementedError

    # -- pipeline ----------------------------------------------------------------------------------
    async def serve(
        self,
        request: Request,
        endpoint: str,
        handler: Handler,
        gate: Gate | None = None,
        faults: bool = True,
        auth: bool = True,
    ) -> Response:
        """Run one API request through faults, auth and the vendor gate; token endpoints pass auth=False."""
        self.stats.hit(endpoint)
        response = self.injected_fault(endpoint) if faults else None
        if response is not None:
            await self.sleep_latency()
        elif auth:
            response = self.check_auth(request, endpoint)
        if response is None:

            async def call() -> Response:
                await self.sleep_latency()
                return await run_in_threadpool(handler, request)

            response = await (gate(request, call) if gate else call())
        if faults:
            response = self.truncate(response)
        self.stats.record(response.status_code)
        return response

    def injected_fault(self, endpoint: str) -> Response | None:
        if self.faults.take("throttle_next"):
            response = self.fault_response(endpoint, 429)
            response.headers["Retry-After"] = self.faults.retry_after_header
            return response
        if self.faults.take("error_next") or self.faults.roll_error():
            return self.fault_response(endpoint, 500)
        return None

    async def sleep_latency(self) -> None:
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)

    def truncate(self, response: Response) -> Response:
        """Cut a 200 body in half, as a dropped connection behind a proxy would (or, `garble_next`,
        replace it by a proxy's HTML page: a 200 that is not what the API sends)."""
        if response.status_code == 200 and self.faults.take("garble_next"):
            self.stats.add("garbled")
            return Response(
                b"<html><body>502 Bad Gateway</body></html>", status_code=200, media_type=response.media_type
            )
        if response.status_code != 200 or not self.faults.take("truncate_next"):
            return response
        body = bytes(response.body)
        self.stats.add("truncated")
        return Response(body[: len(body) // 2], status_code=200, media_type=response.media_type)

    # -- admin -------------------------------------------------------------------------------------
    def admin_routes(self) -> list[Route]:
        return [
            Route("/_sandbox/faults", self._admin_faults, methods=["GET", "POST"]),
            Route("/_sandbox/stats", self._admin_stats, methods=["GET"]),
            Route("/_sandbox/stats/reset", self._admin_reset, methods=["POST"]),
        ]

    def set_knobs(self, values: dict[str, Any]) -> None:
        """Route each key to `faults` or to the vendor `knobs`; reject unknown keys up front."""
        fault_names = {f.name for f in dataclasses.fields(Faults)}
        knob_names = {f.name for f in dataclasses.fields(self.knobs)} if self.knobs is not None else set()
        unknown = set(values) - fault_names - knob_names
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        self.faults.update(**{k: v for k, v in values.items() if k in fault_names})
        for key in set(values) & knob_names:
            setattr(self.knobs, key, values[key])

    def knob_snapshot(self) -> dict[str, Any]:
        knobs = dataclasses.asdict(self.knobs) if self.knobs is not None else {}
        return {**self.faults.snapshot(), **knobs}

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.set_knobs(await request.json())
            except (KeyError, ValueError) as exc:
                return JSONResponse({"error": f"unknown or invalid knob: {exc}"}, status_code=400)
        return JSONResponse(self.knob_snapshot())

    async def _admin_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.snapshot())

    async def _admin_reset(self, request: Request) -> Response:
        self.stats.reset()
        return JSONResponse(self.stats.snapshot())


class SimulatorServer:
    """Runs an ASGI app with uvicorn in a daemon thread; the port is bound before start returns."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.host, self.port = app, host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"sim-{self.port}"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"simulator on {self.base_url} did not start")
            time.sleep(0.01)
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["BaseSimulator", "Faults", "SimulatorServer", "Stats"]
