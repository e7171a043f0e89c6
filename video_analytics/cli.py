"""`video-analytics demo | ui | sql | export`: the commands a user types."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import warnings
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from video_analytics.sandbox.demo import run_demo

    run_demo(days=args.days)
    return 0


#: `dagster dev` warns that `dg dev` supersedes it on every start; `dg` is not one of our dependencies.
QUIET_DAGSTER_DEV = "ignore:Function `dev_command` is superseded"


def _ui(args: argparse.Namespace) -> int:
    """The Dagster UI against the sandbox, which lives as long as the UI does."""
    from video_analytics.sandbox import Sandbox
    from video_analytics.sandbox.demo import prepare_dagster_home
    from video_analytics.settings import Settings

    home = prepare_dagster_home()
    os.environ.setdefault("VIDEO_ANALYTICS_PROFILE", "sandbox")
    command = dagster_dev_command(args.host, args.port, os.getcwd())
    quiet = {"PYTHONWARNINGS": ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET_DAGSTER_DEV]))}
    if os.environ["VIDEO_ANALYTICS_PROFILE"] != "sandbox":
        return subprocess.call(command, env={**os.environ, **quiet})
    # Started in DAGSTER_HOME, so `dagster dev` does not warn that the repo's dagster.yaml in the
    # working folder "will not be used" (a copy of it in DAGSTER_HOME is); the lake stays where it was.
    lake = {"VIDEO_ANALYTICS_DATA_DIR": Settings.from_env().lake_root}
    with Sandbox() as sandbox:
        env = {**sandbox_env(), **os.environ, **sandbox.env(), **lake, **quiet}
        print(f"sandbox up; Dagster UI on http://{args.host}:{args.port}", flush=True)
        try:
            return subprocess.call(command, env=env, cwd=home)
        except KeyboardInterrupt:
            return 0


def dagster_dev_command(host: str, port: int, working_directory: str) -> list[str]:
    """`dagster dev` on our definitions; ``-d`` keeps module loading where the user started."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    target = ["-m", "video_analytics.definitions", "-d", working_directory]
    return [dagster, "dev", *target, "-h", host, "-p", str(port)]


def sandbox_env() -> dict[str, str]:
    """Settings sources need in the sandbox besides the simulators' (e.g. where generated logs live)."""
    from video_analytics.sandbox.registry import sandbox_env
    from video_analytics.settings import Settings

    return sandbox_env(Settings.from_env())


def _sql(args: argparse.Namespace) -> int:
    """Read-only: only queries, only files of the lake; a bad query is one line on stderr, exit 2."""
    import polars as pl

    from video_analytics.settings import Settings
    from video_analytics.storage.sql_door import query
    from video_analytics.warehouse.assets import ensure_duckdb_warehouse

    settings = Settings.from_env()
    database = args.database or settings.warehouse_path
    problem = None if os.path.exists(database) else ensure_duckdb_warehouse(settings.lake_root, database)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    frame = query(database, args.query, lake_roots=[settings.lake_root])
    with pl.Config(tbl_rows=args.rows, tbl_cols=-1, fmt_str_lengths=60):
        print(frame)
    return 0


def _export(args: argparse.Namespace) -> int:
    from video_analytics.export import export_table

    rows = export_table(
        args.table, args.out, start=args.start, end=args.end, channels=args.channel or (), fmt=args.format
    )
    print(f"wrote {rows} rows to {args.out}")
    return 0


def _redshift_ddl(args: argparse.Namespace) -> int:
    from video_analytics.settings import Settings
    from video_analytics.wistia.redshift_ddl import redshift_ddl

    print(redshift_ddl(Settings.from_env()), end="")
    return 0


def _report(args: argparse.Namespace) -> int:
    import webbrowser

    from video_analytics.settings import Settings
    from video_analytics.unified.publish import report_from_lake

    settings = Settings.from_env()
    out = args.out_dir or os.environ.get("VIDEO_ANALYTICS_REPORT_DIR") or None
    path = report_from_lake(settings.lake_root, args.day, out)
    print(f"wrote {path}")
    if args.open:
        webbrowser.open(path if "://" in path else Path(path).as_uri())
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("video-analytics")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="video-analytics", description=__doc__)
    root.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="run every asset on the sandbox and build the warehouse")
    demo.add_argument("--days", type=int, default=14, help="days of daily partitions (ending yesterday)")
    demo.set_defaults(run=_demo)
    ui = commands.add_parser("ui", help="the Dagster UI against the sandbox")
    ui.add_argument("--host", default="127.0.0.1", help="address the UI listens on (default: %(default)s)")
    ui.add_argument("--port", type=int, default=3000, help="port the UI listens on (default: %(default)s)")
    ui.set_defaults(run=_ui)
    sql = commands.add_parser(
        "sql",
        help="query the DuckDB warehouse (read-only)",
        description="Run SELECT queries against the warehouse views over the lake. Read-only: statements "
        "that write (COPY, ATTACH, EXPORT, SET, ...) are refused and only files of the lake can be read.",
    )
    sql.add_argument("query", help='SQL to run, e.g. "SELECT count(*) FROM daily_video_metrics"')
    sql.add_argument("--database", help="DuckDB file (default: <data dir>/warehouse.duckdb)")
    sql.add_argument("--rows", type=int, default=50, help="rows to print at most (default: %(default)s)")
    sql.set_defaults(run=_sql)
    export = commands.add_parser("export", help="one CSV or Parquet file from a lake table over a date range")
    export.add_argument("table", help="lake table, e.g. daily_video_metrics (a folder under the data dir)")
    export.add_argument("out", help="OUT.csv or OUT.parquet, outside the data dir")
    export.add_argument("--start", required=True, help="first day, YYYY-MM-DD (inclusive)")
    export.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")
    export.add_argument(
        "--channel", action="append", help="keep this channel (repeat for several, e.g. the research group)"
    )
    export.add_argument(
        "--format",
        choices=("csv", "parquet", "agora-jsonl"),
        help="default: from OUT's extension; agora-jsonl: the original Agora job's `key<TAB>json` lines",
    )
    export.set_defaults(run=_export)
    ddl = commands.add_parser("redshift-ddl", help="CREATE EXTERNAL SCHEMA over the Glue-catalogued lake")
    ddl.set_defaults(run=_redshift_ddl)
    report = commands.add_parser("report", help="write (and open) the cross-platform HTML report of a day")
    report.add_argument("--day", help="YYYY-MM-DD (default: the latest day of video_daily_performance)")
    report.add_argument("--out-dir", help="folder for the HTML (default: <data dir>/reports)")
    report.add_argument("--open", action="store_true", help="open the report in the default browser")
    report.set_defaults(run=_report)
    return root


def main(argv: list[str] | None = None) -> int:
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"video-analytics {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
