"""The S3 lake catalogued in Glue: real boto3 / s3fs calls over HTTP to a moto server."""

from __future__ import annotations

from datetime import timedelta

import boto3
import dagster as dg
import polars as pl
import pytest

from video_analytics.storage.glue import GlueCatalogedParquetIOManager, hive_type, table_input
from video_analytics.storage.parquet import read_table
from video_analytics.storage.warehouse import discover_tables
from video_analytics.wistia import assets as wa

from .conftest import YESTERDAY, range_tags

TABLES = {
    "dim_media": "wistia_dim_media",
    "dim_visitors": "wistia_dim_visitors",
    "fact_engagements": "wistia_fact_engagements",
    "fact_engagements_byday": "wistia_fact_engagements_byday",
    "fact_engagement_graph": "wistia_fact_engagement_graph",
    "fact_events": "wistia_fact_events",
}
UNPARTITIONED = ("dim_media", "dim_visitors", "fact_engagement_graph")


def test_hive_types_cover_the_model():
    assert hive_type(pl.Int64()) == "bigint" and hive_type(pl.Date()) == "date"
    struct = pl.List(pl.Struct({"url": pl.String(), "fileSize": pl.Int64()}))
    assert hive_type(struct) == "array<struct<url:string,fileSize:bigint>>"
    table = table_input("t", "s3a://b/x", {"date": pl.Date(), "n": pl.Int64()}, partitioned=True)
    assert table["PartitionKeys"] == [{"Name": "date", "Type": "date"}]
    assert table["StorageDescriptor"]["Columns"] == [{"Name": "n", "Type": "bigint"}]
    assert table["StorageDescriptor"]["Location"] == "s3://b/x/"


@pytest.fixture
def glue_lake(s3_endpoint, s3_bucket, wistia):
    database = f"wistia_{s3_bucket.replace('-', '_')}"
    root = f"s3://{s3_bucket}/lake"
    io_manager = GlueCatalogedParquetIOManager(
        root=root,
        storage_options={"endpoint_url": s3_endpoint},
        database=database,
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
    )
    glue = boto3.client("glue", endpoint_url=s3_endpoint, region_name="us-east-1")
    return {"wistia": wistia, "wistia_io_manager": io_manager}, glue, database, root


def partitions(glue, database: str, table: str) -> list[str]:
    found = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    return sorted(p["Values"][0] for p in found)


def test_every_table_and_partition_is_registered_where_the_lake_wrote_it(glue_lake, s3_endpoint):
    resources, glue, database, root = glue_lake
    start = YESTERDAY - timedelta(days=2)
    result = dg.materialize(wa.assets, resources=resources, tags=range_tags(start, YESTERDAY))
    assert result.success
    paths = {
        e.materialization.asset_key.path[-1]: e.materialization.metadata["path"].value
        for e in result.get_asset_materialization_events()
    }
    names = {t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert names == set(TABLES)
    days = [str(start + timedelta(days=i)) for i in range(3)]
    for table, asset in TABLES.items():
        got = glue.get_table(DatabaseName=database, Name=table)["Table"]
        assert got["StorageDescriptor"]["Location"] == f"{root}/{table}/"  # the original's prefixes
        assert paths[asset] == f"{root}/{table}"  # ... which is where the lake wrote
        assert got["TableType"] == "EXTERNAL_TABLE"
        if table in UNPARTITIONED:
            assert got.get("PartitionKeys", []) == []
        else:
            assert partitions(glue, database, table) == days
            assert got["PartitionKeys"][0]["Name"] == "date"
    events = glue.get_table(DatabaseName=database, Name="fact_events")["Table"]
    columns = {c["Name"]: c["Type"] for c in events["StorageDescriptor"]["Columns"]}
    assert columns["lat"] == "double" and columns["email"] == "int"
    assert columns["user_agent_details"].startswith("struct<browser:string")
    part = glue.get_partition(DatabaseName=database, TableName="fact_events", PartitionValues=[days[0]])
    assert part["Partition"]["StorageDescriptor"]["Location"] == f"{root}/fact_events/date={days[0]}/"
    byday = glue.get_table(DatabaseName=database, Name="fact_engagements_byday")["Table"]
    assert byday["PartitionKeys"] == [{"Name": "date", "Type": "string"}]  # the seed's string date
    # The files are where the catalogue says, and hold the rows.
    stored = read_table(root, "fact_events", {"endpoint_url": s3_endpoint})
    assert stored.height > 0 and stored["received_at"].str.slice(0, 10).unique().sort().to_list() == days
    # Exactly the original's prefixes under the root, one DuckDB view each, named like the Glue table.
    found = discover_tables(root, {"endpoint_url": s3_endpoint})
    assert found == {t: (t, t not in UNPARTITIONED) for t in TABLES}


def test_re_runs_register_only_new_partitions(glue_lake):
    resources, glue, database, _ = glue_lake
    day = YESTERDAY - timedelta(days=1)
    selection = ["wistia_dim_media", "wistia_fact_events"]
    first = dg.materialize(wa.assets, selection=selection, resources=resources, tags=range_tags(day, day))
    again = dg.materialize(wa.assets, selection=selection, resources=resources, tags=range_tags(day, day))
    more = dg.materialize(
        wa.assets, selection=selection, resources=resources, tags=range_tags(day, YESTERDAY)
    )
    added = [
        {
            e.materialization.asset_key.path[-1]: e.materialization.metadata["glue_partitions_added"].value
            for e in r.get_asset_materialization_events()
            if e.materialization.asset_key.path[-1] == "wistia_fact_events"
        }
        for r in (first, again, more)
    ]
    assert [a["wistia_fact_events"] for a in added] == [1, 0, 1]
    assert partitions(glue, database, "fact_events") == [str(day), str(YESTERDAY)]
    actions = [
        e.materialization.metadata["glue_table_action"].value
        for r in (first, again)
        for e in r.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == "wistia_dim_media"
    ]
    assert actions == ["created", "unchanged"]


def test_a_changed_schema_updates_the_table(s3_endpoint, s3_bucket):
    from video_analytics.storage.glue import GlueCatalog

    glue = boto3.client("glue", endpoint_url=s3_endpoint, region_name="us-east-1")
    catalog = GlueCatalog(f"db_{s3_bucket.replace('-', '_')}", glue)
    catalog.ensure_database()
    location = f"s3://{s3_bucket}/t"
    assert catalog.upsert_table(table_input("t", location, {"a": pl.Int64()}, False)) == "created"
    assert (
        catalog.upsert_table(table_input("t", location, {"a": pl.Int64(), "b": pl.String()}, False))
        == "updated"
    )
    columns = glue.get_table(DatabaseName=catalog.database, Name="t")["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["a", "b"]


def test_a_catalogue_of_the_old_asset_named_folders_is_pointed_at_the_new_ones(glue_lake):
    """Before the lake used the original's prefixes it wrote `wistia_fact_events/`; a re-run moves the
    table and its already registered partitions to `fact_events/`, where the new files are."""
    resources, glue, database, root = glue_lake
    days = [YESTERDAY - timedelta(days=1), YESTERDAY]
    catalog = resources["wistia_io_manager"].catalog()
    catalog.ensure_database()
    old = table_input("fact_events", f"{root}/wistia_fact_events", {"date": pl.Date(), "n": pl.Int64()}, True)
    catalog.upsert_table(old)
    assert catalog.add_partitions(old, [str(days[0])]) == (1, 0)
    result = dg.materialize(
        wa.assets,
        selection=["wistia_dim_media", "wistia_fact_events"],
        resources=resources,
        tags=range_tags(*days),
    )
    metadata = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == "wistia_fact_events"
    )
    assert metadata["glue_table_action"].value == "updated"
    assert (metadata["glue_partitions_added"].value, metadata["glue_partitions_relocated"].value) == (1, 1)
    found = glue.get_partitions(DatabaseName=database, TableName="fact_events")["Partitions"]
    locations = sorted(p["StorageDescriptor"]["Location"] for p in found)
    assert locations == [f"{root}/fact_events/date={day}/" for day in days]
    table = glue.get_table(DatabaseName=database, Name="fact_events")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"{root}/fact_events/"
