"""A BigQuery IO manager for polars frames: date-partitioned tables, one partition replaced per day.

Each daily partition is written by a load job of Parquet into the partition decorator
(`project.dataset.table$YYYYMMDD`) with WRITE_TRUNCATE, so a re-run replaces that day atomically and
never appends (the DailyMotion original appended every run through a raw table and `INSERT ... SELECT`).
A day with no rows is cleared with a parameterised DELETE. The table is created first, partitioned by
day on the asset's `partition_column`, with types derived from the frame (DATE, TIMESTAMP, INT64,
FLOAT64, STRING, BOOL, repeated STRING for lists) and REQUIRED on the columns listed in the asset
metadata `bigquery_required`.

Built on dagster-gcp: the client comes from `dagster_gcp.BigQueryResource` (project, location and
optional base64 service-account credentials). dagster-gcp's own DB IO managers handle pandas, not
polars, and replace partitions by DELETE + INSERT, hence this one.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import dagster as dg
import polars as pl
from google.cloud import bigquery

from video_analytics.storage.parquet import DEFAULT_PARTITION_COLUMN, split_by_partition
from video_analytics.storage.preview import markdown_preview

_SCALARS: dict[type[pl.DataType], str] = {
    pl.Date: "DATE",
    pl.Datetime: "TIMESTAMP",
    pl.String: "STRING",
    pl.Boolean: "BOOL",
    pl.Float32: "FLOAT64",
    pl.Float64: "FLOAT64",
    pl.Decimal: "NUMERIC",
}


def bigquery_type(dtype: pl.DataType) -> tuple[str, str]:
    """(BigQuery type, mode) for a polars dtype; lists become REPEATED columns of their inner type."""
    if isinstance(dtype, pl.List):
        inner, _ = bigquery_type(dtype.inner)
        return inner, "REPEATED"
    if dtype.is_integer():
        return "INT64", "NULLABLE"
    for polars_type, name in _SCALARS.items():
        if isinstance(dtype, polars_type) or dtype == polars_type:
            return name, "NULLABLE"
    raise TypeError(f"no BigQuery type for polars {dtype}")


def bigquery_schema(frame: pl.DataFrame, required: Sequence[str] = ()) -> list[bigquery.SchemaField]:
    fields = []
    for name, dtype in frame.schema.items():
        kind, mode = bigquery_type(dtype)
        fields.append(bigquery.SchemaField(name, kind, mode="REQUIRED" if name in required else mode))
    return fields


@contextlib.contextmanager
def open_client(project: str, location: str | None, gcp_credentials: str | None) -> Iterator[bigquery.Client]:
    """A BigQuery client from dagster-gcp's resource (tests replace this function with a fake)."""
    from dagster_gcp import BigQueryResource

    resource = BigQueryResource(project=project, location=location, gcp_credentials=gcp_credentials)
    with resource.get_client() as client:
        yield client


class BigQueryIOManager(dg.ConfigurableIOManager):
    """Stores polars frames in `project.dataset.<asset key joined by __>`, one partition per day."""

    project: str
    dataset: str
    location: str | None = None
    gcp_credentials: str | None = None

    def table_id(self, context: dg.OutputContext | dg.InputContext) -> str:
        path = context.asset_key.path if context.has_asset_key else context.get_identifier()
        return f"{self.project}.{self.dataset}.{'__'.join(path)}"

    def _client(self) -> contextlib.AbstractContextManager[bigquery.Client]:
        return open_client(self.project, self.location, self.gcp_credentials)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        if not isinstance(frame, pl.DataFrame):
            raise TypeError(f"BigQueryIOManager stores polars DataFrames, got {type(obj).__name__}.")
        metadata = context.definition_metadata or {}
        column = metadata.get("partition_column", DEFAULT_PARTITION_COLUMN)
        schema = bigquery_schema(frame, metadata.get("bigquery_required", ()))
        table_id = self.table_id(context)
        partitioned = context.has_asset_partitions
        parts = (
            split_by_partition(frame, column, context.asset_partition_keys, table_id) if partitioned else {}
        )
        payloads = {key: _parquet(part) for key, part in parts.items()}  # all serialized before any write
        with self._client() as client:
            table = bigquery.Table(table_id, schema=schema)
            if partitioned:
                table.time_partitioning = bigquery.TimePartitioning(
                    type_=bigquery.TimePartitioningType.DAY, field=column
                )
            client.create_table(table, exists_ok=True)
            if not partitioned:
                self._load(client, table_id, _parquet(frame), schema, None)
            for key, payload in payloads.items():
                if parts[key].height:
                    self._load(client, f"{table_id}${key.replace('-', '')}", payload, schema, column)
                else:
                    _clear_day(client, table_id, column, key)
        context.add_output_metadata(
            {
                "dagster/row_count": frame.height,
                "bigquery_table": table_id,
                "partitions_written": len(parts),
                "preview": dg.MetadataValue.md(markdown_preview(frame)),
            }
        )

    @staticmethod
    def _load(
        client: bigquery.Client, destination: str, payload: bytes, schema: list, column: str | None
    ) -> None:
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            schema=schema,
        )
        parquet_options = bigquery.ParquetOptions()
        parquet_options.enable_list_inference = True  # polars lists -> REPEATED, not a nested record
        config.parquet_options = parquet_options
        if column:
            config.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=column
            )
        client.load_table_from_file(io.BytesIO(payload), destination, job_config=config).result()

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        table_id = self.table_id(context)
        sql, params = f"SELECT * FROM `{table_id}`", []
        if context.has_asset_partitions:
            column = (context.upstream_output.definition_metadata or {}).get(
                "partition_column", DEFAULT_PARTITION_COLUMN
            )
            keys = sorted(context.asset_partition_keys)
            sql += f" WHERE `{column}` BETWEEN @first_day AND @last_day"
            params = [
                bigquery.ScalarQueryParameter("first_day", "DATE", date.fromisoformat(keys[0])),
                bigquery.ScalarQueryParameter("last_day", "DATE", date.fromisoformat(keys[-1])),
            ]
        with self._client() as client:
            job = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=params))
            return pl.from_arrow(job.result().to_arrow())


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _clear_day(client: bigquery.Client, table_id: str, column: str, key: str) -> None:
    """An empty day still replaces what was there: delete its rows (a zero-row load is not portable)."""
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("day", "DATE", date.fromisoformat(key))]
    )
    client.query(f"DELETE FROM `{table_id}` WHERE `{column}` = @day", job_config=config).result()
