"""Native Redshift tables: each run replaces exactly its partitions' slice, in one transaction.

For users who want internal tables rather than Spectrum over the lake. Per output: create the schema and
table if missing, add columns new in the data, DELETE the rows of the run's partitions (the whole table
for unpartitioned assets), INSERT the frame, COMMIT. Readers see the old slice or the new one, never a
mix, and a re-run never duplicates. DELETE, not TRUNCATE: in Redshift TRUNCATE commits the open
transaction implicitly.

The connection comes from dagster-aws's `RedshiftClientResource` (host, port, user, password, database,
sslmode). Its `execute_queries` takes SQL strings only, so rows would have to be spliced into SQL
text; instead we open the connection with the same arguments (`RedshiftClient.conn_args`) and bind the
values with psycopg2's `execute_values`. Nested columns (struct / list) become SUPER via JSON_PARSE on
Redshift; `dialect="postgres"` (the wire-compatible stand-in used in tests) uses JSONB and TEXT instead.
For large loads on a real cluster, COPY from the Parquet lake is faster; this loader favours a
self-contained, transactional path that needs no IAM role on the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Literal

import dagster as dg
import polars as pl
import psycopg2
import psycopg2.extras
from dagster_aws.redshift import RedshiftClientResource
from psycopg2 import sql

from video_analytics.settings import RedshiftSettings
from video_analytics.storage.parquet import DEFAULT_PARTITION_COLUMN, LAKE_TABLE, split_by_partition
from video_analytics.storage.preview import markdown_preview

Dialect = Literal["redshift", "postgres"]
_PAGE = 1000  # rows per INSERT statement (Redshift caps a statement at 16 MB)


def column_type(dtype: pl.DataType, dialect: Dialect) -> str:
    """SQL type of a polars dtype in Redshift (or PostgreSQL for the stand-in)."""
    if isinstance(dtype, pl.List | pl.Array | pl.Struct):
        return "SUPER" if dialect == "redshift" else "JSONB"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    mapping = {
        pl.Int8: "SMALLINT",
        pl.Int16: "SMALLINT",
        pl.Int32: "INTEGER",
        pl.Int64: "BIGINT",
        pl.UInt8: "SMALLINT",
        pl.UInt16: "INTEGER",
        pl.UInt32: "BIGINT",
        pl.UInt64: "BIGINT",
        pl.Float32: "REAL",
        pl.Float64: "DOUBLE PRECISION",
        pl.Boolean: "BOOLEAN",
        pl.Date: "DATE",
    }
    for polars_type, name in mapping.items():
        if dtype == polars_type:
            return name
    return "VARCHAR(65535)" if dialect == "redshift" else "TEXT"  # Redshift's VARCHAR default is 256


def _nested(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List | pl.Array | pl.Struct)


def _json_default(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def rows(frame: pl.DataFrame) -> Iterator[tuple]:
    """Frame rows as tuples, nested values as JSON text (SUPER / JSONB parse it server-side)."""
    nested = [i for i, dtype in enumerate(frame.dtypes) if _nested(dtype)]
    for row in frame.iter_rows():
        if not nested:
            yield row
            continue
        values = list(row)
        for i in nested:
            values[i] = None if values[i] is None else json.dumps(values[i], default=_json_default)
        yield tuple(values)


class RedshiftLoaderIOManager(dg.ConfigurableIOManager):
    """Stores polars frames in native tables `<schema>.<table>` and reads them back.

    The table is named like the asset's lake folder (metadata ``lake_table``, e.g. ``dim_media``; else
    the asset key joined with ``_``), so Spectrum over the lake and the native tables share names.
    """

    redshift: RedshiftClientResource
    schema_name: str = "video_analytics"
    dialect: Dialect = "redshift"

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One connection, one transaction: committed on success, rolled back on any error."""
        conn = psycopg2.connect(**self.redshift.get_client().conn_args)
        try:
            with conn, conn.cursor() as cursor:
                yield cursor
        finally:
            conn.close()

    def _table(self, context: dg.OutputContext | dg.InputContext) -> str:
        metadata = (
            context.upstream_output if isinstance(context, dg.InputContext) else context
        ).definition_metadata
        folder = str((metadata or {}).get(LAKE_TABLE) or "").strip("/")
        return folder.replace("/", "_") if folder else "_".join(context.asset_key.path)

    def _partition_column(self, context: dg.OutputContext | dg.InputContext) -> str:
        output = context.upstream_output if isinstance(context, dg.InputContext) else context
        return str((output.definition_metadata or {}).get("partition_column", DEFAULT_PARTITION_COLUMN))

    def _slice(self, column: str, dtype_is_date: bool, keys: Sequence[str]) -> sql.Composed:
        """WHERE clause of the rows belonging to partition `keys` (day of an ISO string or a DATE)."""
        target = (
            sql.Identifier(column)
            if dtype_is_date
            else sql.SQL("LEFT({}, 10)").format(sql.Identifier(column))
        )
        values = [date.fromisoformat(k) if dtype_is_date else k for k in keys]
        return sql.SQL(" WHERE {} IN ({})").format(target, sql.SQL(", ").join(map(sql.Literal, values)))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        if not isinstance(frame, pl.DataFrame):
            raise TypeError(f"RedshiftLoaderIOManager stores polars DataFrames, got {type(obj).__name__}.")
        name = self._table(context)
        target = sql.Identifier(self.schema_name, name)
        where = sql.SQL("")
        if context.has_asset_partitions:
            column = self._partition_column(context)
            keys = sorted(context.asset_partition_keys)
            split_by_partition(frame, column, keys, name)  # rows outside the run's days: fail before writing
            where = self._slice(column, frame.schema[column] == pl.Date, keys)
        with self.transaction() as cursor:
            cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema_name)))
            cursor.execute(self._create(target, frame))
            added = self._add_new_columns(cursor, target, name, frame)
            cursor.execute(sql.SQL("DELETE FROM {}").format(target) + where)
            deleted = cursor.rowcount
            if frame.height:
                insert = sql.SQL("INSERT INTO {} ({}) VALUES %s").format(
                    target, sql.SQL(", ").join(map(sql.Identifier, frame.columns))
                )
                template = self._template(frame)
                psycopg2.extras.execute_values(
                    cursor, insert.as_string(cursor), rows(frame), template=template, page_size=_PAGE
                )
        context.log.info(f"redshift {self.schema_name}.{name}: replaced {deleted} rows with {frame.height}")
        context.add_output_metadata(
            {
                "dagster/row_count": frame.height,
                "redshift_table": f"{self.schema_name}.{name}",
                "rows_deleted": deleted,
                "columns_added": len(added),
                "preview": dg.MetadataValue.md(markdown_preview(frame)),
            }
        )

    def _add_new_columns(
        self, cursor: Any, target: sql.Composable, name: str, frame: pl.DataFrame
    ) -> list[str]:
        """A column new in the data is added (NULL for older rows); dropped columns stay and get NULL."""
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema_name, name),
        )
        existing = {row[0] for row in cursor.fetchall()}
        added = [col for col in frame.columns if col not in existing]
        for col in added:
            cursor.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    target, sql.Identifier(col), sql.SQL(column_type(frame.schema[col], self.dialect))
                )
            )
        return added

    def _create(self, target: sql.Composable, frame: pl.DataFrame) -> sql.Composed:
        columns = [
            sql.SQL("{} {}").format(sql.Identifier(col), sql.SQL(column_type(dtype, self.dialect)))
            for col, dtype in frame.schema.items()
        ]
        return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, sql.SQL(", ").join(columns))

    def _template(self, frame: pl.DataFrame) -> str:
        cast = "JSON_PARSE(%s)" if self.dialect == "redshift" else "%s::jsonb"
        return "(" + ", ".join(cast if _nested(dtype) else "%s" for dtype in frame.dtypes) + ")"

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        name = self._table(context)
        with self.transaction() as cursor:
            cursor.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (self.schema_name, name),
            )
            types = dict(cursor.fetchall())
            if not types:
                raise dg.Failure(f"Table {self.schema_name}.{name} does not exist; materialize it first.")
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(self.schema_name, name))
            if context.has_asset_partitions:
                column = self._partition_column(context)
                query += self._slice(
                    column, types.get(column) == "date", sorted(context.asset_partition_keys)
                )
            cursor.execute(query)
            names = [d.name for d in cursor.description]
            fetched = cursor.fetchall()
        # SUPER comes back as JSON text; psycopg2 already decodes JSONB.
        super_columns = {i for i, n in enumerate(names) if types.get(n, "").lower() == "super"}
        records = [
            {
                n: json.loads(v) if i in super_columns and isinstance(v, str) else v
                for i, (n, v) in enumerate(zip(names, row, strict=True))
            }
            for row in fetched
        ]
        return pl.DataFrame(records, infer_schema_length=None) if records else pl.DataFrame(schema=names)


def redshift_io_manager(settings: RedshiftSettings, schema_name: str) -> RedshiftLoaderIOManager:
    """The connection of the REDSHIFT_* settings; the host and password stay EnvVars.

    `REDSHIFT_DIALECT=postgres` targets a PostgreSQL server instead (local runs, tests).
    """
    client = RedshiftClientResource(
        host=dg.EnvVar("REDSHIFT_HOST"),
        port=settings.port,
        user=settings.user,
        password=dg.EnvVar("REDSHIFT_PASSWORD") if settings.has_password else None,
        database=settings.database,
        sslmode=settings.sslmode,
    )
    return RedshiftLoaderIOManager(redshift=client, schema_name=schema_name, dialect=settings.dialect)
