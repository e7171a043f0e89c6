"""Shared pytest fixtures."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import pytest

#: The in-process BigQuery emulator's fixtures (`bigquery_emulator`, `bigquery`) and the session's one
#: started Dagster UI (`dagster_ui`).
pytest_plugins = ["video_analytics_tests.bigquery_emulator", "video_analytics_tests.dagster_ui"]

# --- PostgreSQL 15 server for @pytest.mark.postgres tests --------------------------------------


def _pg_bin_dir() -> str | None:
    """Directory holding initdb/pg_ctl/createdb, preferring the Debian PostgreSQL 15 layout."""
    candidates = ["/usr/lib/postgresql/15/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, "initdb")):
            return folder
    found = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(found)) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_run(args: list[str], check: bool = True) -> None:
    """initdb refuses to run as root, so drop to the `postgres` user when we are root."""
    argv = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args
    subprocess.run(argv, check=check, capture_output=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server (trust auth, 127.0.0.1, free port); yields a postgresql:// URL."""
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb) not found; install postgresql-15 to run these")
    # Not under pytest's tmp dir: that is 0700 root-owned, and the server runs as `postgres`.
    workdir = tempfile.mkdtemp(prefix="va-pg-")
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    data, port = os.path.join(workdir, "data"), _free_port()
    pg_ctl = os.path.join(bin_dir, "pg_ctl")
    _pg_run([os.path.join(bin_dir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres"])
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1"
    _pg_run([pg_ctl, "-D", data, "-o", options, "-l", f"{workdir}/server.log", "-w", "start"])
    try:
        createdb = os.path.join(bin_dir, "createdb")
        _pg_run([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "video_analytics_test"])
        yield f"postgresql://postgres@127.0.0.1:{port}/video_analytics_test"
    finally:
        _pg_run([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


# --- S3 (moto server) for lake tests -------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local moto S3 server with fake credentials; yields its endpoint URL (real s3fs/boto3 talk HTTP)."""
    moto_server = pytest.importorskip("moto.server")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket per test; returns its name."""
    import boto3

    name = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


# --- One demo run shared by the tests of what a user sees after `make demo` ---------------------


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple:
    """`video-analytics demo` over 3 days (sandbox at test scale) in a fresh folder, run once per
    session for every test that reads its results (they share `support.DEMO_GROUP`, so under
    `--dist loadgroup` one xdist worker builds it); the environment and the working
    folder are restored as soon as it is done. Yields (root, summary, printed output)."""
    from video_analytics.sandbox.demo import run_demo

    root = tmp_path_factory.mktemp("demo")
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update({"DAGSTER_HOME": str(root / "home"), "VIDEO_ANALYTICS_DATA_DIR": str(root / "data")})
    os.environ["AGORA_DEMO_LINES"] = "20000"  # the real demo's 200,000 a day belong to `make demo`
    unset = ("BRIGHTCOVE_ACCOUNTS", "VIDEO_ANALYTICS_PG_URL", "AGORA_LOG_ROOT")
    unset += ("VIDEO_ANALYTICS_VIDEO_MAPPING",)
    for name in unset:
        os.environ.pop(name, None)
    os.chdir(root)
    lines: list[str] = []
    try:
        summary = run_demo(days=3, echo=lines.append, scale="test")
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return root, summary, "\n".join(lines)


# --- CPU seconds per test (`pytest --cpu-durations=N`) --------------------------------------------
# Wall-clock durations mean little on a shared, loaded machine; CPU seconds (this process plus the
# child processes it has waited for: `dagster dev`, run workers) compare runs made under any load.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-durations",
        type=int,
        default=None,
        metavar="N",
        help="show the N tests that used the most CPU seconds, and the suite's total (0: every test)",
    )


def _cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Put the phase's CPU seconds on its report (reports travel from xdist workers to the controller)."""
    started = item.stash.get(_PHASE_CPU, None)
    outcome = yield
    if started is not None:
        outcome.get_result().user_properties.append(("cpu_seconds", _cpu_seconds() - started))


_PHASE_CPU = pytest.StashKey[float]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    item.stash[_PHASE_CPU] = _cpu_seconds()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    item.stash[_PHASE_CPU] = _cpu_seconds()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem):
    item.stash[_PHASE_CPU] = _cpu_seconds()
    return (yield)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    seconds = sum(value for name, value in report.user_properties if name == "cpu_seconds")
    _CPU_BY_TEST[report.nodeid] = _CPU_BY_TEST.get(report.nodeid, 0.0) + seconds


_CPU_BY_TEST: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    count = config.getoption("cpu_durations")
    if count is None or not _CPU_BY_TEST:
        return
    ranked = sorted(_CPU_BY_TEST.items(), key=lambda entry: entry[1], reverse=True)
    terminalreporter.write_sep("=", f"CPU seconds per test: {sum(_CPU_BY_TEST.values()):.1f} in all")
    for nodeid, seconds in ranked[: count or None]:
        terminalreporter.write_line(f"{seconds:8.2f}  {nodeid}")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail at once if `--dist loadgroup` stops grouping: the shared demo run and `dagster dev` would
    then be built on every worker (pytest 9.2 with xdist 3.8 does that silently, pytest-xdist#1386)."""
    if getattr(config.option, "loadgroup", False):
        grouped = [item for item in items if item.get_closest_marker("xdist_group")]
        if grouped and not any("@" in item.nodeid for item in grouped):
            raise pytest.UsageError(
                "pytest-xdist's --dist loadgroup is not grouping xdist_group tests with this pytest "
                f"({pytest.__version__}): install the versions in constraints.txt (`make install-dev`)"
            )
