"""fsspec options for a storage root, shared by the lake, the warehouse and the Agora log reader.

Kept apart from `parquet.py` (the Dagster IO manager) so that readers which need only a filesystem,
like the Agora log reader and generator, do not import Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping

from video_analytics.settings import s3_endpoint_url


def resolve_storage_options(root: str, storage_options: Mapping[str, str] | None) -> dict[str, str]:
    """Explicit options win; for bare ``s3://`` roots fall back to the standard AWS endpoint env vars
    so the same config works against AWS, MinIO or moto."""
    options = dict(storage_options or {})
    if not options and root.startswith(("s3://", "s3a://")):
        endpoint = s3_endpoint_url()
        if endpoint:
            options["endpoint_url"] = endpoint
    return options
