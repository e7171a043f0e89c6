"""The native Redshift loader against PostgreSQL 15 (Redshift's wire-compatible stand-in).

What differs on a real cluster is in the loader's docstring and docs/sources/wistia.md: SUPER +
JSON_PARSE instead of JSONB, VARCHAR(65535) instead of TEXT, and DELETE (never TRUNCATE) inside the
transaction.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlparse

import dagster as dg
import polars as pl
import psycopg2
import pytest
from dagster_aws.redshift import RedshiftClientResource

from video_analytics.storage.redshift import RedshiftLoaderIOManager, column_type
from video_analytics.wistia import assets as wa

from .conftest import YESTERDAY, range_tags


def test_redshift_types_and_super_insert_template():
    assert column_type(pl.List(pl.Int64()), "redshift") == "SUPER"
    assert column_type(pl.String(), "redshift") == "VARCHAR(65535)"
    assert column_type(pl.String(), "postgres") == "TEXT"
    assert column_type(pl.Date(), "redshift") == "DATE"
    client = RedshiftClientResource(host="h")
    frame = pl.DataFrame({"a": [1], "b": [[1, 2]]})
    assert RedshiftLoaderIOManager(redshift=client)._template(frame) == "(%s, JSON_PARSE(%s))"


@pytest.fixture
def warehouse(postgres_url, wistia):
    url = urlparse(postgres_url)
    client = RedshiftClientResource(
        host=url.hostname, port=url.port, user=url.username, database=url.path.lstrip("/"), sslmode="disable"
    )
    schema = f"wistia_{uuid.uuid4().hex[:8]}"
    io_manager = RedshiftLoaderIOManager(redshift=client, schema_name=schema, dialect="postgres")
    conn = psycopg2.connect(postgres_url)
    conn.autocommit = True
    yield {"wistia": wistia, "wistia_io_manager": io_manager}, conn.cursor(), schema
    conn.close()


def count(cursor, sql: str) -> int:
    cursor.execute(sql)
    return cursor.fetchone()[0]


def test_backfill_and_re_run_replace_each_slice_without_duplicates(warehouse):
    resources, cursor, schema = warehouse
    start = YESTERDAY - timedelta(days=2)
    first = dg.materialize(wa.assets, resources=resources, tags=range_tags(start, YESTERDAY))
    assert first.success
    events = count(cursor, f"SELECT count(*) FROM {schema}.fact_events")
    keys = count(cursor, f"SELECT count(DISTINCT event_key) FROM {schema}.fact_events")
    assert events == keys > 0
    assert count(cursor, f"SELECT count(*) FROM {schema}.dim_media") == 130
    assert count(cursor, f"SELECT count(*) FROM {schema}.fact_engagements") == 3 * count(
        cursor, f"SELECT count(DISTINCT media_id) FROM {schema}.fact_engagements"
    )
    visitors = count(cursor, f"SELECT count(*) FROM {schema}.dim_visitors")
    assert visitors == count(cursor, f"SELECT count(DISTINCT visitor_key) FROM {schema}.fact_events")
    # Nested columns are JSON, nulls stay null.
    cursor.execute(f"SELECT thumbnail->>'width', tags FROM {schema}.dim_media ORDER BY id LIMIT 1")
    width, tags = cursor.fetchone()
    assert width == "200" and isinstance(tags, list)
    assert count(cursor, f"SELECT count(*) FROM {schema}.fact_events WHERE lat IS NULL") > 0
    assert count(cursor, f"SELECT count(*) FROM {schema}.fact_events WHERE lat = 0") == 0

    # Re-running the middle day replaces exactly that day's rows.
    middle = start + timedelta(days=1)
    cursor.execute(
        f"SELECT count(*) FROM {schema}.fact_events WHERE LEFT(received_at, 10) = %s", (str(middle),)
    )
    middle_rows = cursor.fetchone()[0]
    again = dg.materialize(
        wa.assets,
        selection=["wistia_fact_events", "wistia_fact_engagements", "wistia_fact_engagements_byday"],
        resources=resources,
        tags=range_tags(middle, middle),
    )
    assert again.success
    assert count(cursor, f"SELECT count(*) FROM {schema}.fact_events") == events
    deleted = {
        e.materialization.asset_key.path[-1]: e.materialization.metadata["rows_deleted"].value
        for e in again.get_asset_materialization_events()
    }
    assert deleted["wistia_fact_events"] == middle_rows
    assert count(cursor, f"SELECT count(*) FROM {schema}.fact_engagements_byday") == 3 * 130


def test_a_failed_load_rolls_back_and_keeps_the_old_slice(warehouse):
    resources, cursor, schema = warehouse
    io_manager = resources["wistia_io_manager"]
    good = pl.DataFrame({"media_id": ["a", "b"], "date": [str(YESTERDAY)] * 2, "play_count": [1, 2]})
    context = dg.build_output_context(
        asset_key="t", definition_metadata={"lake_table": "t"}, partition_key=str(YESTERDAY)
    )
    io_manager.handle_output(context, good)
    broken = good.with_columns(pl.Series("play_count", ["x", "y"]))  # TEXT into a BIGINT column
    with pytest.raises(psycopg2.Error):
        io_manager.handle_output(context, broken)
    assert count(cursor, f"SELECT sum(play_count) FROM {schema}.t") == 3
    stray = good.with_columns(pl.lit("2001-01-01").alias("date"))
    with pytest.raises(ValueError, match="fall outside this run's partitions"):
        io_manager.handle_output(context, stray)
    assert count(cursor, f"SELECT count(*) FROM {schema}.t") == 2


def test_a_new_column_is_added_and_older_rows_keep_null(warehouse):
    resources, cursor, schema = warehouse
    io_manager = resources["wistia_io_manager"]

    def context():
        return dg.build_output_context(asset_key="u", definition_metadata={"lake_table": "u"})

    io_manager.handle_output(context(), pl.DataFrame({"id": [1, 2]}))
    io_manager.handle_output(context(), pl.DataFrame({"id": [3], "name": ["x"]}))
    cursor.execute(f"SELECT id, name FROM {schema}.u ORDER BY id")
    assert cursor.fetchall() == [(3, "x")]  # unpartitioned: the table is replaced as a whole
    io_manager.handle_output(context(), pl.DataFrame({"id": [4]}))
    cursor.execute(f"SELECT id, name FROM {schema}.u")
    assert cursor.fetchall() == [(4, None)]
    loaded = io_manager.load_input(dg.build_input_context(upstream_output=context(), asset_key="u"))
    assert loaded.to_dicts() == [{"id": 4, "name": None}]
