"""The Agora log resource: where the player logs live (local folder or s3://) and how to read them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from video_analytics.agora import configuration
from video_analytics.agora.configuration import DEFAULT_BLOCK_BYTES, DEFAULT_BUCKET_LINES
from video_analytics.settings import Settings, SettingsError

if TYPE_CHECKING:  # they import polars (and fsspec): the steps import them, not the definitions
    from video_analytics.agora.client import LogReader
    from video_analytics.agora.geoip import GeoLookup


class AgoraCustomField(dg.Config):
    """A log key aggregated per stream into a column of agora_session_stats (see docs/agora.md)."""

    key: str = Field(description="The log key, e.g. x_flash_player.")
    column: str = Field(description="The output column (lower-case letters, digits, _).")
    aggregate: str = Field(default="first", description=f"One of {', '.join(configuration.AGGREGATES)}.")


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

    geoip_database: str | None = Field(
        default=None,
        description="Local path of a GeoIP2/GeoLite2 City or Country .mmdb "
        "(AGORA_GEOIP_DATABASE): fills geo_*.",
    )
    isp_database: str | None = Field(
        default=None,
        description="Local path of a GeoIP2 ISP or GeoLite2 ASN .mmdb (AGORA_ISP_DATABASE): fills isp_name.",
    )
    custom_fields: list[AgoraCustomField] = Field(
        default_factory=list,
        description="Extra log keys aggregated per stream, besides the built-in ones (AGORA_CUSTOM_FIELDS).",
    )

    def field_specs(self) -> tuple[configuration.CustomField, ...]:
        """The built-in custom fields plus the configured ones, validated against existing columns."""
        from video_analytics.agora import engine

        built_in = configuration.BUILT_IN
        reserved = [*engine.empty_sessions().columns, *(f.column for f in built_in)]
        configured = [configuration.CustomField(f.key, f.column, f.aggregate) for f in self.custom_fields]
        return built_in + configuration.validate(configured, reserved)

    def geo_lookup(self) -> GeoLookup:
        from video_analytics.agora.geoip import GeoLookup

        return GeoLookup.open(self.geoip_database, self.isp_database)

    scan_threads: int = Field(
        default=0,
        description="Threads of the native log scanner; 0 = the cores this process may use (CPU affinity).",
    )

    def threads(self) -> int | None:
        return self.scan_threads or None

    def reader(self) -> LogReader:
        from video_analytics.agora.client import LogReader

        return LogReader(self.log_root, dict(self.storage_options), self.block_bytes)


def configured_custom_fields(settings: Settings) -> list[AgoraCustomField]:
    """AGORA_CUSTOM_FIELDS: a JSON list of {key, column, aggregate} (checked again against the output
    columns when the run starts)."""
    try:
        fields = configuration.parse_setting(settings.agora.custom_fields)
    except configuration.CustomFieldError as exc:
        raise SettingsError(str(exc)) from exc
    return [AgoraCustomField(key=f.key, column=f.column, aggregate=f.aggregate) for f in fields]


def agora_logs_resource(settings: Settings) -> AgoraLogsResource:
    """The log root is read at run time (EnvVar): definitions load even where it is not set. GeoIP
    databases and custom fields are optional settings (docs/sources/agora.md)."""
    return AgoraLogsResource(
        log_root=dg.EnvVar("AGORA_LOG_ROOT"),
        storage_options=settings.agora.log_storage_options,
        geoip_database=settings.agora.geoip_database,
        isp_database=settings.agora.isp_database,
        custom_fields=configured_custom_fields(settings),
    )


def build_resources(settings: Settings) -> dict[str, AgoraLogsResource]:
    return {"agora_logs": agora_logs_resource(settings)}
