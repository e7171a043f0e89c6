"""fsspec options for a storage root, shared by the lake, the warehouse and the Agora log reader.

Kept apart from `parquet.py` (the Dagster IO manager) so that readers which need only a filesystem,
like the Agora log reader and generator, do not import Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from video_analytics.settings import s3_endpoint_url

if TYPE_CHECKING:  # fsspec is imported where a filesystem is opened, not with the definitions
    from fsspec import AbstractFileSystem


def resolve_storage_options(root: str, storage_options: Mapping[str, str] | None) -> dict[str, str]:
    """Explicit options win; for bare ``s3://`` roots fall back to the standard AWS endpoint env vars
    so the same config works against AWS, MinIO or moto."""
    options = dict(storage_options or {})
    if not options and root.startswith(("s3://", "s3a://")):
        endpoint = s3_endpoint_url()
        if endpoint:
            options["endpoint_url"] = endpoint
    return options


def open_filesystem(
    url: str, storage_options: Mapping[str, str] | None = None
) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``url`` with its resolved options, and the path within it."""
    import fsspec

    return fsspec.core.url_to_fs(url, **resolve_storage_options(url, storage_options))
