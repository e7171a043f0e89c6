"""The Agora log resource: where the player logs live (local folder or s3://) and how to read them."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from video_analytics.agora.client import DEFAULT_BLOCK_BYTES, LogReader
from video_analytics.agora.engine import DEFAULT_BUCKET_LINES


class AgoraLogsResource(dg.ConfigurableResource):
    """`log_root` holds one folder per day, `<root>/YYYY-MM-DD/`, with any number of plain or .gz files.

    For s3:// roots, credentials come from the standard AWS chain (never from config); an endpoint
    (MinIO, moto) from `storage_options` or AWS_ENDPOINT_URL.
    """

    log_root: str = Field(description="Local folder or s3://bucket/prefix holding the day folders.")
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="fsspec options, e.g. {'endpoint_url': ...}; no secrets here."
    )
    block_bytes: int = Field(default=DEFAULT_BLOCK_BYTES, description="Bytes of log text parsed at once.")
    bucket_lines: int = Field(
        default=DEFAULT_BUCKET_LINES,
        description="Log lines per aggregation bucket of a day too big for memory (events spill to disk).",
    )

    scan_threads: int = Field(
        default=0,
        description="Threads of the native log scanner; 0 = the cores this process may use (CPU affinity).",
    )

    def threads(self) -> int | None:
        return self.scan_threads or None

    def reader(self) -> LogReader:
        return LogReader(self.log_root, dict(self.storage_options), self.block_bytes)
