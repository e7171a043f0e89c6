"""A BigQuery IO manager for polars frames: date-partitioned tables, a run's days replaced atomically.

A run's rows are loaded (one Parquet load job) into a staging table, then one multi-statement
transaction deletes the run's days from the table and inserts the staging rows, and the staging table
is dropped. A re-run therefore replaces its days and never appends (the DailyMotion original appended
every run), an empty day is cleared, and readers see the old days or the new ones, never a mix.
This is portable: it runs on BigQuery and on BigQuery emulators, which accept neither partition
decorators (`table$YYYYMMDD`) nor a load that creates its table. The table is created first,
partitioned by day on the asset's `partition_column`, with types derived from the frame (DATE,
TIMESTAMP, INT64, FLOAT64, STRING, BOOL, repeated types for lists) and REQUIRED on the columns listed
in the asset metadata `bigquery_required`. Staging tables expire after a day, so a crash between load
and drop leaves nothing behind for long.

With `lake_root` set (`VIDEO_ANALYTICS_STORAGE...=bigquery+parquet`), every output is also written to
the Parquet lake first; inputs are still read from BigQuery.

Built on dagster-gcp: the client comes from `dagster_gcp.BigQueryResource` (project, location and
optional base64 service-account credentials). dagster-gcp's own DB IO managers handle pandas, not
polars, hence this one.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa
from google.cloud import bigquery

from video_analytics.settings import bigquery_emulator_host
from video_analytics.storage.parquet import (
    DEFAULT_PARTITION_COLUMN,
    ParquetLakeIOManager,
    add_partition_row_counts,
    split_by_partition,
)
from video_analytics.storage.preview import markdown_preview

STAGING_LIFETIME = timedelta(days=1)
EMULATOR_HOST = "BIGQUERY_EMULATOR_HOST"

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
    """A BigQuery client from dagster-gcp's resource.

    With ``BIGQUERY_EMULATOR_HOST`` set (the variable google-cloud-bigquery itself honours) the client
    talks to that emulator without credentials; the tests run the whole path against bqemulator so.
    """
    emulator = bigquery_emulator_host()
    if emulator:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        endpoint = emulator if "://" in emulator else f"http://{emulator}"
        client = bigquery.Client(
            project=project,
            location=location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
        with contextlib.closing(client):
            yield client
        return
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
    lake_root: str | None = None  # also write the Parquet lake there (`<target>+parquet`)

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
        table_id = self.table_id(context)
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else []
        parts = split_by_partition(frame, column, keys, table_id) if keys else {}  # fails before writing
        lake_metadata = self._write_lake(context, frame)
        schema = bigquery_schema(frame, metadata.get("bigquery_required", ()))
        with self._client() as client:
            _create_table(client, table_id, schema, column if keys else None)
            replace_rows(client, table_id, schema, _parquet(frame), column if keys else None, keys)
        if keys:
            add_partition_row_counts(context, {key: part.height for key, part in parts.items()})
        project, dataset, table = table_id.split(".")
        context.add_output_metadata(
            {
                **lake_metadata,
                "dagster/row_count": frame.height,
                "dagster/table_name": table_id,
                "dagster/uri": f"bigquery://{project}/{dataset}/{table}",
                "partitions_written": len(parts),
                "preview": dg.MetadataValue.md(markdown_preview(frame)),
            }
        )

    def _write_lake(self, context: dg.OutputContext, frame: pl.DataFrame) -> dict[str, Any]:
        """The lake copy, when configured: its path only (the row counts are the table's)."""
        if not self.lake_root:
            return {}
        written = ParquetLakeIOManager(root=self.lake_root).write(context, frame)
        return {"lake_path": written["path"]}

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
            return _frame(job.result())


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _create_table(client: bigquery.Client, table_id: str, schema: list, column: str | None) -> None:
    table = bigquery.Table(table_id, schema=schema)
    if column:
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field=column
        )
    client.create_table(table, exists_ok=True)


def replace_rows(
    client: bigquery.Client,
    table_id: str,
    schema: list,
    payload: bytes,
    column: str | None,
    days: Sequence[str],
) -> None:
    """Stage ``payload`` then, in one transaction, drop ``days`` (or every row, unpartitioned) and
    insert the staged rows. Days are validated ISO dates, written as literals: emulators accept
    multi-statement transactions only with literal values."""
    staging = f"{table_id}__staging_{uuid.uuid4().hex[:12]}"
    table = bigquery.Table(staging, schema=schema)
    table.expires = datetime.now(UTC) + STAGING_LIFETIME
    client.create_table(table)
    try:
        _load(client, staging, payload, schema)
        names = ", ".join(f"`{field.name}`" for field in schema)
        where = (
            f"`{column}` IN ({', '.join(_date_literal(day) for day in days)})" if column and days else "TRUE"
        )
        client.query(
            "BEGIN TRANSACTION;\n"
            f"DELETE FROM `{table_id}` WHERE {where};\n"
            f"INSERT INTO `{table_id}` ({names}) SELECT {names} FROM `{staging}`;\n"
            "COMMIT TRANSACTION;"
        ).result()
    finally:
        client.delete_table(staging, not_found_ok=True)


def _date_literal(day: str) -> str:
    return f"DATE '{date.fromisoformat(day).isoformat()}'"


def _load(client: bigquery.Client, destination: str, payload: bytes, schema: list) -> None:
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.PARQUET,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        schema=schema,
    )
    parquet_options = bigquery.ParquetOptions()
    parquet_options.enable_list_inference = True  # polars lists -> REPEATED, not a nested record
    config.parquet_options = parquet_options
    client.load_table_from_file(io.BytesIO(payload), destination, job_config=config).result()


def run_statements(client: bigquery.Client, statements: Sequence[str]) -> None:
    """Run DDL one statement at a time (each its own job), e.g. the warehouse's views."""
    for statement in statements:
        client.query(statement).result()


def query_frame(client: bigquery.Client, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """A query's rows as polars, read over REST (no Storage API client)."""
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter(k, _param_type(v), v) for k, v in (params or {}).items()
        ]
    )
    return _frame(client.query(sql, job_config=config).result())


def _frame(rows: Any) -> pl.DataFrame:
    """Rows as polars over plain REST pages (no Storage API client: works on emulators too), with
    BigQuery's Arrow extension types (DATETIME, JSON, ...) unwrapped to their plain Arrow types."""
    table = rows.to_arrow(create_bqstorage_client=False)
    columns = {
        field.name: pa.chunked_array([chunk.storage for chunk in column.chunks], field.type.storage_type)
        if isinstance(field.type, pa.ExtensionType)
        else column
        for field, column in zip(table.schema, table.columns, strict=True)
    }
    return pl.from_arrow(pa.table(columns))


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, date):
        return "DATE"
    return "STRING"
