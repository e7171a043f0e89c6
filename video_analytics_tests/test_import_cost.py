"""What a process imports: only the storage it is configured for, and no Dagster in the Agora reader.

Each case runs in a fresh interpreter (the test process has imported everything already)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY_STORAGE = ("boto3", "dagster_aws", "dagster_gcp", "google.cloud.bigquery", "psycopg2")
#: Imported by the step that uses them (an API call, a warehouse build, custom fields, any frame or
#: file), not at load: every run worker, daemon tick and UI reload imports the definitions first.
#: polars was half of what loading the definitions cost on top of `import dagster`, fsspec another
#: 0.02 CPU-s (benchmarks/import_cost.py): asset and check functions import polars and their source's
#: transforms where they run, the lake helpers fsspec.
USED_BY_STEPS = ("httpx", "duckdb", "sqlglot", "pyarrow", "numpy", "maxminddb", "polars", "fsspec")


def imported_after(statement: str, env: dict[str, str] | None = None) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    environment = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_definitions_on_the_lake_import_no_warehouse_clients(tmp_path):
    env = {"VIDEO_ANALYTICS_STORAGE": "parquet", "VIDEO_ANALYTICS_DATA_DIR": str(tmp_path)}
    modules = imported_after("import video_analytics.definitions", env)
    assert "video_analytics.definitions" in modules
    assert not modules & set(HEAVY_STORAGE), "a warehouse client is imported for a Parquet lake"
    assert not modules & set(USED_BY_STEPS), "a library only steps use is imported at load"


def test_code_versions_do_not_depend_on_what_a_step_has_imported(tmp_path):
    """A run worker (its steps import polars and the transforms) and the daemon or UI (they do not)
    compute the same code versions: else every asset would look changed between them."""
    env = {"VIDEO_ANALYTICS_STORAGE": "parquet", "VIDEO_ANALYTICS_DATA_DIR": str(tmp_path)}
    versions = (
        "import json\nfrom video_analytics.definitions import defs\n"
        "graph = defs.resolve_asset_graph()\n"
        "keys = graph.get_all_asset_keys()\n"
        "print(json.dumps({k.to_user_string(): graph.get(k).code_version for k in keys}))"
    )
    steps_ran = "\n".join(
        f"import video_analytics.{module}"
        for module in ("brightcove.transforms", "tmdb.transforms", "agora.engine", "unified.conform")
    )
    assert _stdout_json(versions, env) == _stdout_json(f"{steps_ran}\n{versions}", env)


def _stdout_json(code: str, env: dict[str, str]):
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, **env}
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_agora_reader_engine_and_generator_import_no_dagster():
    agora = (
        "video_analytics.agora.engine",
        "video_analytics.agora.client",
        "video_analytics.sandbox.agora.generator",
    )
    modules = imported_after("\n".join(f"import {module}" for module in agora))
    assert set(agora) <= modules
    assert "dagster" not in modules
