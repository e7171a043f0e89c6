"""Where a source's tables go, declared once: `Settings.storage_for(source)` -> IO manager and kinds.

`VIDEO_ANALYTICS_STORAGE` (or `VIDEO_ANALYTICS_STORAGE_<SOURCE>`) picks the warehouse; the sources'
`definitions.py` ask here for their IO manager and tag their assets with the matching kind, so the UI
shows where each table lives (`bigquery`, `redshift`, `parquet`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import dagster as dg

from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.parquet import ParquetLakeIOManager

BQ_CREDENTIALS = "VIDEO_ANALYTICS_BQ_CREDENTIALS"
#: Dagster shows at most three kinds per asset.
_MAX_KINDS = 3


def bigquery_io_manager(settings: Settings, lake_root: str | None = None) -> dg.ConfigurableIOManager:
    """BigQuery from VIDEO_ANALYTICS_BQ_PROJECT / _DATASET / _LOCATION / _CREDENTIALS."""
    from video_analytics.storage.bigquery import BigQueryIOManager

    bigquery = settings.bigquery
    if not bigquery.project or not bigquery.dataset:
        raise SettingsError(
            "BigQuery storage (VIDEO_ANALYTICS_STORAGE or VIDEO_ANALYTICS_STORAGE_<SOURCE>=bigquery) needs "
            "VIDEO_ANALYTICS_BQ_PROJECT and VIDEO_ANALYTICS_BQ_DATASET"
        )
    return BigQueryIOManager(
        project=bigquery.project,
        dataset=bigquery.dataset,
        location=bigquery.location,
        gcp_credentials=bigquery_credentials(settings),
        lake_root=lake_root,
    )


def bigquery_credentials(settings: Settings) -> dg.EnvVar | None:
    """Base64 service-account JSON as dagster-gcp takes it (an EnvVar); None: Application Default
    Credentials."""
    return dg.EnvVar(BQ_CREDENTIALS) if settings.bigquery.has_credentials else None


def lake_io_manager(settings: Settings) -> ParquetLakeIOManager:
    """The lake, for every asset: a warehouse target (bigquery, redshift) is applied by the sources
    whose tables load there (DailyMotion, TMDB, Wistia), through their own IO manager keys."""
    return ParquetLakeIOManager(root=settings.lake_root)


def io_manager_for(settings: Settings, source: str) -> dg.ConfigurableIOManager:
    """The lake, or BigQuery (plus the lake with `bigquery+parquet`) for sources that lived there."""
    target, also_lake = settings.storage_for(source)
    if target == "bigquery":
        return bigquery_io_manager(settings, settings.lake_root if also_lake else None)
    return lake_io_manager(settings)


def storage_kind(settings: Settings, source: str) -> str:
    return settings.storage_for(source)[0]


def with_storage_kind(
    assets: Sequence[dg.AssetsDefinition], kind: str, skip: Collection[dg.AssetKey] = ()
) -> list[dg.AssetsDefinition]:
    """The assets with `kind` (where their tables live) added, within Dagster's three kinds; assets
    in `skip` store no table."""

    def add(spec: dg.AssetSpec) -> dg.AssetSpec:
        kinds = set(spec.kinds or ())
        if kind in kinds or spec.key in skip:
            return spec
        if len(kinds) >= _MAX_KINDS:
            kinds.discard("polars")  # the least telling one makes room
        return spec.replace_attributes(kinds={*kinds, kind})

    return [asset.map_asset_specs(add) for asset in assets]
