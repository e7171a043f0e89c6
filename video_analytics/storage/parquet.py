"""A Parquet "lake" IO manager: one file per daily partition, on local disk or S3.

Layout: ``<root>/<asset/key/path>/date=YYYY-MM-DD/part-0.parquet`` for partitioned assets and
``<root>/<asset/key/path>/part-0.parquet`` otherwise (asset metadata ``lake_table`` names another
folder). The date column stays inside the files so any reader (polars, DuckDB, pandas) works without
Hive partition parsing.

Each file is replaced atomically (temp file + ``os.replace`` locally, one PUT on S3), so a crash or a
re-run never leaves a half-written or appended partition behind. Local temp files are staged in the
table's ``.staging/`` folder under a ``.tmp`` suffix, where no reader's pattern (``date=*/*.parquet``,
``part-*.parquet``, ``**/*.parquet``) looks, even if a SIGKILL leaves one behind; the next write to the
table removes leftovers whose writer is gone. Files get the mode the umask gives (0644 under 022), so
other service accounts can read the lake.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from video_analytics.storage.options import open_filesystem, resolve_storage_options
from video_analytics.storage.preview import markdown_preview

if TYPE_CHECKING:  # polars and fsspec are imported where they are used: this module (the IO manager)
    import polars as pl  # loads with the definitions in every process
    from fsspec import AbstractFileSystem

PART_FILE = "part-0.parquet"
DEFAULT_PARTITION_COLUMN = "date"
LAKE_TABLE = "lake_table"  # asset metadata: folder of the table under the root, instead of the key path
_MAX_PARTITIONS_IN_METADATA = 31
_KEY = "__lake_partition_key"
_FETCH_WORKERS = 16
STAGING_DIR = ".staging"  # per table, beside the date=* folders; no reader pattern looks inside
TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 6 * 3600  # a temp file of another host is abandoned after this long
_HOST = socket.gethostname().replace("~", "-")
_LEGACY_TEMP = re.compile(r"^\.tmp-.*\.parquet$")


def _is_local(fs: AbstractFileSystem) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def table_url(root: str, asset_key_path: Sequence[str]) -> str:
    """Folder of one lake table (asset key components joined by ``/``)."""
    return "/".join([root.rstrip("/"), *asset_key_path])


def lake_path(root: str, asset_key_path: Sequence[str], partition: str | None) -> str:
    """Path of the single file holding an asset (``partition=None``) or one of its partitions."""
    base = table_url(root, asset_key_path)
    return f"{base}/date={partition}/{PART_FILE}" if partition else f"{base}/{PART_FILE}"


def frame_to_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=1)  # level 3: 1.6x the CPU, same size
    return buffer.getvalue()


def table_folder(path: str) -> str:
    """The table folder holding a lake file: the parent of ``date=*/`` or of the file itself."""
    folder = os.path.dirname(path)
    return os.path.dirname(folder) if os.path.basename(folder).startswith("date=") else folder


def _staged_name(path: str) -> str:
    """``<date=D|table>~<host>~<pid>~<random>.tmp``: whose it is, so a sweep knows when it is stale."""
    partition = os.path.basename(os.path.dirname(path))
    tag = partition if partition.startswith("date=") else "table"
    return f"{tag}~{_HOST}~{os.getpid()}~{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _writer_is_gone(name: str, now: float, mtime: float) -> bool:
    """A temp file is stale when its writer on this host has died, or (any host) it is old."""
    if now - mtime > STALE_TEMP_SECONDS:
        return True
    parts = name.removesuffix(TEMP_SUFFIX).split("~")
    if len(parts) != 4 or parts[1] != _HOST or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    if pid == os.getpid():
        return False  # another thread of this process may be writing it right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by another user
    return False


def sweep_stale_temps(path: str, clock=time.time) -> list[str]:
    """Remove temp files a killed writer left for the table holding ``path``; returns what went.

    Also removes ``.tmp-*.parquet`` files inside the partition folder: earlier versions staged there,
    where readers globbing ``*.parquet`` counted them as data.
    """
    removed = []
    staging, now = os.path.join(table_folder(path), STAGING_DIR), clock()
    candidates = []
    if os.path.isdir(staging):
        candidates += [os.path.join(staging, n) for n in os.listdir(staging) if n.endswith(TEMP_SUFFIX)]
    folder = os.path.dirname(path)
    if os.path.isdir(folder):
        candidates += [os.path.join(folder, n) for n in os.listdir(folder) if _LEGACY_TEMP.match(n)]
    for candidate in candidates:
        name = os.path.basename(candidate)
        try:
            stale = _LEGACY_TEMP.match(name) or _writer_is_gone(name, now, os.stat(candidate).st_mtime)
            if stale:
                os.remove(candidate)
                removed.append(candidate)
        except FileNotFoundError:
            continue  # another writer swept it first
    return removed


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (a power cut after it must not bring the old file back)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_local(data: bytes, path: str) -> None:
    """Stage in the table's ``.staging/`` then rename: readers see the old file or the new one, never
    half, and never the temp file. ``os.open`` with 0o666 lets the umask set the mode."""
    folder = os.path.dirname(path)
    staging = os.path.join(table_folder(path), STAGING_DIR)
    os.makedirs(folder, exist_ok=True)
    os.makedirs(staging, exist_ok=True)
    sweep_stale_temps(path)
    tmp = os.path.join(staging, _staged_name(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_folder(folder)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_bytes_atomic(fs_path: str, data: bytes, storage_options: Mapping[str, str] | None = None) -> None:
    fs, path = open_filesystem(fs_path, storage_options)
    if _is_local(fs):
        _replace_local(data, path)
    else:
        fs.pipe_file(path, data)  # one PUT: object stores swap whole objects atomically


def write_frame_atomic(
    fs_path: str, frame: pl.DataFrame, storage_options: Mapping[str, str] | None = None
) -> None:
    """Replace the Parquet file at ``fs_path`` (local path or URL) with ``frame`` atomically."""
    write_bytes_atomic(fs_path, frame_to_bytes(frame), storage_options)


def _fetch(url: str, storage_options: Mapping[str, str] | None) -> bytes | None:
    fs, path = open_filesystem(url, storage_options)
    try:
        return fs.cat_file(path)
    except FileNotFoundError:
        return None


def read_files(
    urls: Sequence[str], storage_options: Mapping[str, str] | None = None, allow_missing: bool = False
) -> pl.DataFrame:
    """Fetch lake files concurrently (S3 latency dominates) and stack them; schemas may drift."""
    import polars as pl

    with ThreadPoolExecutor(max_workers=_FETCH_WORKERS) as pool:
        blobs = list(pool.map(lambda url: _fetch(url, storage_options), urls))
    frames = []
    for url, blob in zip(urls, blobs, strict=True):
        if blob is None:
            if allow_missing:
                continue
            raise FileNotFoundError(f"Lake file {url} does not exist; materialize that partition first.")
        frames.append(pl.read_parquet(io.BytesIO(blob)))
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def list_partitions(
    root: str, table: str | Sequence[str], storage_options: Mapping[str, str] | None = None
) -> list[str]:
    """Partition keys (``YYYY-MM-DD``) that have a file in a lake table, sorted."""
    key_path = table.split("/") if isinstance(table, str) else list(table)
    fs, base = open_filesystem(table_url(root, key_path), storage_options)
    found = fs.glob(f"{base}/date=*/{PART_FILE}")
    return sorted(p.rsplit("/", 2)[-2].removeprefix("date=") for p in found)


def read_table(
    root: str,
    table: str | Sequence[str],
    storage_options: Mapping[str, str] | None = None,
    start: str | None = None,
    end: str | None = None,
) -> pl.DataFrame:
    """Read a lake table's partitions with ``start <= date <= end`` (inclusive, ``None`` = open).

    ``table`` is the asset key path (``"a/b"`` or ``["a", "b"]``). Unpartitioned tables come back whole.
    """
    key_path = table.split("/") if isinstance(table, str) else list(table)
    keys = list_partitions(root, key_path, storage_options)
    if not keys:
        return read_files([lake_path(root, key_path, None)], storage_options)
    chosen = [k for k in keys if (start is None or k >= start) and (end is None or k <= end)]
    return read_files([lake_path(root, key_path, k) for k in chosen], storage_options)


def _date_keys(frame: pl.DataFrame, column: str, asset: str) -> pl.Expr:
    """Expression turning the partition column (Date, Datetime or ISO string) into ``YYYY-MM-DD``."""
    import polars as pl

    if column not in frame.columns:
        raise ValueError(
            f"Asset {asset}: partition column {column!r} is missing (columns: {frame.columns}); "
            "set metadata={'partition_column': ...} on the asset if it has another name."
        )
    dtype = frame.schema[column]
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        col = col.dt.convert_time_zone("UTC") if dtype.time_zone else col
        return col.dt.strftime("%Y-%m-%d")
    if dtype == pl.Date:
        return col.dt.strftime("%Y-%m-%d")
    if dtype == pl.String:
        return col.str.slice(0, 10)
    raise ValueError(f"Asset {asset}: partition column {column!r} has type {dtype}, expected a date.")


def _single_date(frame: pl.DataFrame, column: str) -> str | None:
    """The one `YYYY-MM-DD` of a Date column holding a single day (from its min and max, without
    formatting every row: a day of Agora rejects has millions), else None."""
    import polars as pl

    if column not in frame.columns or frame.schema[column] != pl.Date or frame.height == 0:
        return None
    series = frame.get_column(column)
    if series.null_count() or series.min() != series.max():
        return None
    return series.min().isoformat()


def split_by_partition(
    frame: pl.DataFrame, column: str, partition_keys: Sequence[str], asset: str = "?"
) -> dict[str, pl.DataFrame]:
    """One frame per requested partition key (empty ones included); rows outside them are an error."""
    single = _single_date(frame, column)
    if single is not None and single in partition_keys:  # one day (a run per partition): no copy
        return {key: frame if key == single else frame.clear() for key in sorted(set(partition_keys))}
    keyed = frame.with_columns(_date_keys(frame, column, asset).alias(_KEY))
    wanted = set(partition_keys)
    present = keyed.get_column(_KEY).unique().to_list()
    stray = sorted(str(k) for k in present if k not in wanted)
    if stray:
        shown = ", ".join(stray[:10]) + (" ..." if len(stray) > 10 else "")
        raise ValueError(
            f"Asset {asset}: rows dated {shown} fall outside this run's partitions "
            f"({min(wanted)}..{max(wanted)}); nothing was written."
        )
    groups = {k[0]: g.drop(_KEY) for k, g in keyed.partition_by(_KEY, as_dict=True).items()}
    empty = frame.clear()
    return {key: groups.get(key, empty) for key in sorted(wanted)}


def _column_schema(schema: Mapping[str, pl.DataType]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in schema.items()])


@dataclass
class EncodedPartitions:
    """An asset's output for a run of many partitions, encoded one partition at a time as it completes.

    A multi-day run of a big asset (Agora: a 10M-line day is millions of reject rows) would otherwise
    hold every day's frame until its single output: here each day's rows live only while that day is
    computed, and what waits for the IO manager is compressed Parquet (a million reject rows: ~1 MB).
    The IO manager writes each partition's file as it would write a frame's (one file each, atomic).
    """

    files: dict[str, bytes] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    schema: dict[str, pl.DataType] = field(default_factory=dict)
    preview: str = ""  # of the first partition with rows

    def add(self, partition_key: str, frame: pl.DataFrame) -> None:
        """Encode one partition's frame (every partition of the run, empty ones too)."""
        if self.files and dict(frame.schema) != self.schema:
            raise ValueError(
                f"partition {partition_key}: columns {list(frame.schema)} differ from the run's "
                f"first partition ({list(self.schema)})"
            )
        self.files[partition_key] = frame_to_bytes(frame)
        self.rows[partition_key] = frame.height
        self.schema = dict(frame.schema)
        if not self.preview and frame.height:
            self.preview = markdown_preview(frame)

    @property
    def height(self) -> int:
        return sum(self.rows.values())


def _uri(url: str) -> str:
    return url if "://" in url else f"file://{os.path.abspath(url)}"


def add_partition_row_counts(context: dg.OutputContext, rows: Mapping[str, int]) -> None:
    """Give each partition of a multi-day run its own ``dagster/row_count``.

    Output metadata is copied to every partition's materialization, so a 3-day single-run backfill
    would show the run's total on each day; partition-scoped asset metadata overrides it per day.
    Outside a step (``build_output_context`` in tests) there is nowhere to put it.
    """
    if len(rows) < 2 or not context.has_asset_key:
        return
    try:
        step = context.step_context
    except dg.DagsterInvariantViolationError:
        return
    for key, count in rows.items():
        step.add_asset_metadata(
            {"dagster/row_count": dg.MetadataValue.int(count)}, asset_key=context.asset_key, partition_key=key
        )


class ParquetLakeIOManager(dg.ConfigurableIOManager):
    """Stores polars DataFrames as Parquet, one file per daily partition, locally or on S3.

    A single-run backfill hands over one frame spanning many days; it is split on the partition
    column (asset metadata ``partition_column``, default ``date``) so each day stays independently
    replaceable. Every partition of the run gets a file, even an empty one, so re-runs drop stale rows.
    """

    root: str
    storage_options: dict[str, str] = {}

    def _options(self) -> dict[str, str]:
        return resolve_storage_options(self.root, self.storage_options)

    def _key_path(self, context: dg.OutputContext | dg.InputContext) -> list[str]:
        """The table's folder: the asset's ``lake_table`` metadata if set, else its key path.

        ``lake_table`` lets a source keep the folder names an existing consumer expects (Wistia's
        ``dim_media/`` for Redshift Spectrum) while its asset keys stay unique in the platform. Inputs
        take it from the upstream asset's definition, so readers find the folder the writer chose.
        """
        output = context.upstream_output if isinstance(context, dg.InputContext) else context
        folder = ((output.definition_metadata if output else None) or {}).get(LAKE_TABLE)
        if folder:
            parts = str(folder).strip("/").split("/")
            if any(part in ("", ".", "..") for part in parts):
                raise ValueError(f"metadata {LAKE_TABLE}={folder!r} is not a relative folder name")
            return parts
        return list(context.asset_key.path) if context.has_asset_key else list(context.get_identifier())

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        import polars as pl

        if isinstance(obj, EncodedPartitions):
            context.add_output_metadata(self.write_encoded(context, obj))
            return
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        if not isinstance(frame, pl.DataFrame):
            raise TypeError(f"ParquetLakeIOManager stores polars DataFrames, got {type(obj).__name__}.")
        context.add_output_metadata(self.write(context, frame))

    def write(self, context: dg.OutputContext, frame: pl.DataFrame) -> dict[str, Any]:
        """Write the frame's files and report rows per partition; returns the output's metadata."""
        key_path = self._key_path(context)
        files: dict[str | None, pl.DataFrame] = {None: frame}
        if context.has_asset_partitions:
            column = (context.definition_metadata or {}).get("partition_column", DEFAULT_PARTITION_COLUMN)
            files = dict(split_by_partition(frame, column, context.asset_partition_keys, "/".join(key_path)))
        # Serialize everything before the first write: a bad frame must not leave a partial backfill.
        payloads = {lake_path(self.root, key_path, k): frame_to_bytes(f) for k, f in files.items()}
        for path, data in payloads.items():
            write_bytes_atomic(path, data, self._options())
        rows = {k: f.height for k, f in files.items()}
        if None not in files:
            add_partition_row_counts(context, {str(k): count for k, count in rows.items()})
        return self._metadata(dict(frame.schema), rows, markdown_preview(frame), key_path)

    def write_encoded(self, context: dg.OutputContext, encoded: EncodedPartitions) -> dict[str, Any]:
        """Write partitions the asset encoded as they completed; they must be exactly the run's."""
        import polars as pl

        key_path = self._key_path(context)
        expected = set(context.asset_partition_keys) if context.has_asset_partitions else set()
        if set(encoded.files) != expected:
            raise ValueError(
                f"Asset {'/'.join(key_path)}: encoded partitions {sorted(encoded.files)} are not this "
                f"run's ({sorted(expected)}); nothing was written."
            )
        for key, data in sorted(encoded.files.items()):
            write_bytes_atomic(lake_path(self.root, key_path, key), data, self._options())
        add_partition_row_counts(context, encoded.rows)
        preview = encoded.preview or markdown_preview(pl.DataFrame())
        return self._metadata(encoded.schema, dict(encoded.rows), preview, key_path)

    def _metadata(
        self,
        schema: Mapping[str, pl.DataType],
        rows: Mapping[str | None, int],
        preview: str,
        key_path: list[str],
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "dagster/row_count": dg.MetadataValue.int(sum(rows.values())),
            "dagster/column_schema": dg.MetadataValue.table_schema(_column_schema(schema)),
            "path": dg.MetadataValue.path(table_url(self.root, key_path)),
            "dagster/uri": dg.MetadataValue.text(_uri(table_url(self.root, key_path))),
            "dagster/table_name": dg.MetadataValue.text("__".join(key_path)),  # its warehouse view
            "partitions_written": dg.MetadataValue.int(len(rows) if None not in rows else 0),
            "preview": dg.MetadataValue.md(preview),
        }
        if None not in rows and len(rows) <= _MAX_PARTITIONS_IN_METADATA:
            metadata["rows_per_partition"] = dg.MetadataValue.json({str(k): n for k, n in rows.items()})
        return metadata

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        key_path = self._key_path(context)
        if not context.has_asset_partitions:
            return read_files([lake_path(self.root, key_path, None)], self._options())
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions", False))
        paths = [lake_path(self.root, key_path, k) for k in context.asset_partition_keys]
        return read_files(paths, self._options(), allow_missing=allow_missing)
