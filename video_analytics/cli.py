"""`video-analytics demo | ui | sql | export`: the commands a user types."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import warnings
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from video_analytics.demo import run_demo

    run_demo(days=args.days)
    return 0


def _ui(args: argparse.Namespace) -> int:
    """The Dagster UI against the sandbox, which lives as long as the UI does."""
    from video_analytics.demo import prepare_dagster_home
    from video_analytics.sandbox import Sandbox

    prepare_dagster_home()
    os.environ.setdefault("VIDEO_ANALYTICS_PROFILE", "sandbox")
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [dagster, "dev", "-m", "video_analytics.definitions", "-h", args.host, "-p", str(args.port)]
    if os.environ["VIDEO_ANALYTICS_PROFILE"] != "sandbox":
        return subprocess.call(command)
    with Sandbox() as sandbox:
        env = {**sandbox_env(), **os.environ, **sandbox.env()}
        print(f"sandbox up; Dagster UI on http://{args.host}:{args.port}", flush=True)
        try:
            return subprocess.call(command, env=env)
        except KeyboardInterrupt:
            return 0


def sandbox_env() -> dict[str, str]:
    """Settings sources need in the sandbox besides the simulators' (e.g. where generated logs live)."""
    from video_analytics.definitions import SOURCES
    from video_analytics.settings import Settings

    settings, env = Settings.from_env(), {}
    for source in SOURCES:
        if hasattr(source, "sandbox_env"):
            env.update(source.sandbox_env(settings))
    return env


def _sql(args: argparse.Namespace) -> int:
    import polars as pl

    from video_analytics.settings import Settings
    from video_analytics.storage.warehouse import run_sql
    from video_analytics.warehouse.assets import ensure_duckdb_warehouse

    database = args.database or Settings.from_env().warehouse_path
    problem = (
        None if os.path.exists(database) else ensure_duckdb_warehouse(Settings.from_env().lake_root, database)
    )
    if problem:
        print(problem, file=sys.stderr)
        return 2
    with pl.Config(tbl_rows=args.rows, tbl_cols=-1, fmt_str_lengths=60):
        print(run_sql(database, args.query))
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="video-analytics", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run every asset on the sandbox and build the warehouse")
    demo.add_argument("--days", type=int, default=14, help="days of daily partitions (ending yesterday)")
    demo.set_defaults(run=_demo)
    ui = commands.add_parser("ui", help="the Dagster UI against the sandbox")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(run=_ui)
    sql = commands.add_parser("sql", help="query the DuckDB warehouse")
    sql.add_argument("query")
    sql.add_argument("--database", help="DuckDB file (default: <data dir>/warehouse.duckdb)")
    sql.add_argument("--rows", type=int, default=50)
    sql.set_defaults(run=_sql)
    export = commands.add_parser("export", help="one CSV or Parquet file from a lake table over a date range")
    export.add_argument("table")
    export.add_argument("out", help="OUT.csv or OUT.parquet")
    export.add_argument("--start", required=True)
    export.add_argument("--end", required=True)
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
