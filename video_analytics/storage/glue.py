"""The Parquet lake, catalogued in the AWS Glue Data Catalog as it is written.

The original pipeline ran a Glue crawler after each load, so new days were invisible to Redshift
Spectrum and Athena until the crawler finished (and crawlers guess types). Here the IO manager writes
the hive-partitioned files exactly as `ParquetLakeIOManager` does, then registers the table (created,
or updated when its columns change) and every partition it has not seen yet, through the Glue API. The
schema comes from the polars frame, so types are exact, not inferred.

Table layout: the table's LOCATION is the folder the lake wrote (``<root>/<lake_table>``, e.g.
``<root>/dim_media/`` for Wistia, else ``<root>/<asset key path>``); the partition key is ``date`` (the
``date=YYYY-MM-DD`` folders). A ``date`` column inside the files is dropped from the table's columns,
because Glue/Athena reject a column that is also a partition key (Spectrum reads the value from the
partition). The table's name is that folder path joined with ``_`` (``dim_media``), so the catalogue
and the lake can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import boto3
import dagster as dg
import polars as pl

from video_analytics.storage.parquet import (
    ParquetLakeIOManager,
    lake_path,
    list_partitions,
    read_files,
    table_url,
)

PARTITION_KEY = "date"  # the lake's folder name, whatever the partition column is called
_BATCH = 100  # batch_create_partition / batch_get_partition take at most 100 entries
_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}


def hive_type(dtype: pl.DataType) -> str:
    """The Glue (Hive DDL) type of a polars dtype; nested types map to array<...>/struct<...>."""
    simple = {
        pl.Int8: "tinyint",
        pl.Int16: "smallint",
        pl.Int32: "int",
        pl.Int64: "bigint",
        pl.UInt8: "smallint",
        pl.UInt16: "int",
        pl.UInt32: "bigint",
        pl.UInt64: "bigint",
        pl.Float32: "float",
        pl.Float64: "double",
        pl.Boolean: "boolean",
        pl.String: "string",
        pl.Date: "date",
        pl.Binary: "binary",
    }
    for polars_type, name in simple.items():
        if dtype == polars_type:
            return name
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if isinstance(dtype, pl.List | pl.Array):
        return f"array<{hive_type(dtype.inner)}>"
    if isinstance(dtype, pl.Struct):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.dtype)}" for f in dtype.fields) + ">"
    if dtype == pl.Null:
        return "string"
    raise TypeError(f"No Glue type for polars {dtype}")


def s3_location(url: str) -> str:
    """Glue wants s3:// URIs with a trailing slash for folders."""
    for prefix in ("s3a://", "s3n://"):
        if url.startswith(prefix):
            url = "s3://" + url[len(prefix) :]
    return url.rstrip("/") + "/"


def table_input(
    name: str,
    location: str,
    frame_schema: Mapping[str, pl.DataType],
    partitioned: bool,
    description: str = "",
) -> dict[str, Any]:
    """Glue TableInput for a Parquet table at `location`, partitioned by `date` if `partitioned`."""
    columns = [
        {"Name": col, "Type": hive_type(dtype)}
        for col, dtype in frame_schema.items()
        if not (partitioned and col == PARTITION_KEY)
    ]
    key_type = "date" if frame_schema.get(PARTITION_KEY) == pl.Date else "string"
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "typeOfData": "file"},
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": key_type}] if partitioned else [],
        "StorageDescriptor": {"Columns": columns, "Location": s3_location(location), **_PARQUET},
    }


class GlueCatalog:
    """The few Glue calls the lake needs; idempotent, so a re-run registers nothing twice."""

    def __init__(self, database: str, client: Any) -> None:
        self.database, self.glue = database, client

    def ensure_database(self) -> None:
        try:
            self.glue.get_database(Name=self.database)
        except self.glue.exceptions.EntityNotFoundException:
            self.glue.create_database(DatabaseInput={"Name": self.database})

    def upsert_table(self, table: dict[str, Any]) -> str:
        """Create the table, or update it when its columns or partition keys changed; returns the action."""
        try:
            current = self.glue.get_table(DatabaseName=self.database, Name=table["Name"])["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            self.glue.create_table(DatabaseName=self.database, TableInput=table)
            return "created"
        same = current["StorageDescriptor"].get("Columns") == table["StorageDescriptor"]["Columns"] and (
            current.get("PartitionKeys", []) == table["PartitionKeys"]
        )
        if same and current["StorageDescriptor"].get("Location") == table["StorageDescriptor"]["Location"]:
            return "unchanged"
        self.glue.update_table(DatabaseName=self.database, TableInput=table)
        return "updated"

    def add_partitions(self, table: dict[str, Any], keys: Sequence[str]) -> tuple[int, int]:
        """Register the partitions among `keys` that Glue does not know yet, and point the known ones
        whose LOCATION is not the table's folder (a lake that moved, e.g. Wistia's old
        ``wistia_fact_events/`` to ``fact_events/``) at it; returns (added, relocated)."""
        existing: dict[str, str] = {}
        for chunk in _chunks(sorted(keys)):
            found = self.glue.batch_get_partition(
                DatabaseName=self.database,
                TableName=table["Name"],
                PartitionsToGet=[{"Values": [k]} for k in chunk],
            )
            existing.update(
                (p["Values"][0], p.get("StorageDescriptor", {}).get("Location", ""))
                for p in found.get("Partitions", [])
            )
        new = [k for k in sorted(keys) if k not in existing]
        moved = [k for k in sorted(existing) if existing[k] != _partition_location(table, k)]
        for chunk in _chunks(new):
            result = self.glue.batch_create_partition(
                DatabaseName=self.database,
                TableName=table["Name"],
                PartitionInputList=[self._partition_input(table, key) for key in chunk],
            )
            self._raise_errors(table, result, ignore="AlreadyExistsException")
        for chunk in _chunks(moved):
            result = self.glue.batch_update_partition(
                DatabaseName=self.database,
                TableName=table["Name"],
                Entries=[
                    {"PartitionValueList": [key], "PartitionInput": self._partition_input(table, key)}
                    for key in chunk
                ],
            )
            self._raise_errors(table, result)
        return len(new), len(moved)

    @staticmethod
    def _partition_input(table: dict[str, Any], key: str) -> dict[str, Any]:
        descriptor = {**table["StorageDescriptor"], "Location": _partition_location(table, key)}
        return {"Values": [key], "StorageDescriptor": descriptor}

    def _raise_errors(self, table: dict[str, Any], result: dict[str, Any], ignore: str = "") -> None:
        errors = [e for e in result.get("Errors", []) if e["ErrorDetail"]["ErrorCode"] != ignore]
        if errors:
            detail = errors[0]["ErrorDetail"]
            raise RuntimeError(
                f"Glue refused {len(errors)} partitions of {self.database}.{table['Name']}: "
                f"{detail['ErrorCode']}: {detail.get('ErrorMessage', '')}"
            )


def _partition_location(table: dict[str, Any], key: str) -> str:
    return f"{table['StorageDescriptor']['Location']}{PARTITION_KEY}={key}/"


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _BATCH] for i in range(0, len(items), _BATCH)]


class GlueCatalogedParquetIOManager(ParquetLakeIOManager):
    """`ParquetLakeIOManager` that also keeps the Glue Data Catalog in step with what it wrote."""

    database: str
    region_name: str | None = None
    endpoint_url: str | None = None  # Glue endpoint (moto, a VPC endpoint); default: AWS_ENDPOINT_URL or AWS

    def catalog(self) -> GlueCatalog:
        kwargs = {
            k: v for k, v in (("region_name", self.region_name), ("endpoint_url", self.endpoint_url)) if v
        }
        return GlueCatalog(self.database, boto3.client("glue", **kwargs))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        super().handle_output(context, obj)
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        key_path = self._key_path(context)  # the folder the lake just wrote
        name = "_".join(key_path)
        partitioned = context.has_asset_partitions
        table = table_input(
            name,
            table_url(self.root, key_path),
            frame.schema,
            partitioned,
            f"Lake table {'/'.join(key_path)}",
        )
        catalog = self.catalog()
        catalog.ensure_database()
        action = catalog.upsert_table(table)
        added = relocated = 0
        if partitioned:  # the lake wrote a file for every partition of the run, empty ones included
            added, relocated = catalog.add_partitions(table, list(context.asset_partition_keys))
        context.log.info(
            f"glue {self.database}.{name}: table {action}, {added} new partitions, {relocated} relocated"
        )
        context.add_output_metadata(
            {
                "glue_table": f"{self.database}.{name}",
                "glue_table_action": action,
                "glue_partitions_added": added,
                "glue_partitions_relocated": relocated,
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        """Like the lake's, but a wide partition range (a dimension over all of history) asks S3 for the
        partitions that exist with one listing instead of one GET per day of the range."""
        metadata = context.definition_metadata or {}
        if not context.has_asset_partitions or not metadata.get("allow_missing_partitions"):
            return super().load_input(context)
        key_path = self._key_path(context)
        existing = set(list_partitions(self.root, key_path, self._options()))
        keys = [k for k in context.asset_partition_keys if k in existing]
        return read_files([lake_path(self.root, key_path, k) for k in keys], self._options())
