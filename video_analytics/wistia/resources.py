"""The Wistia resource: the API token from the environment, the base URL overridable for the sandbox."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from video_analytics.http import RetryPolicy
from video_analytics.settings import Settings, glue_endpoint_url
from video_analytics.storage.targets import lake_io_manager
from video_analytics.wistia.client import PRODUCTION_BASE_URL, REQUESTS_PER_MINUTE, WistiaClient


class WistiaResource(dg.ConfigurableResource):
    """Bearer token (`WISTIA_API_TOKEN`) and base URL (`WISTIA_BASE_URL`) of one Wistia account."""

    api_token: str
    base_url: str = PRODUCTION_BASE_URL
    requests_per_minute: float = Field(
        default=REQUESTS_PER_MINUTE * 0.95,
        description="Client-side pace; Wistia allows 600 requests a minute per account. 0 = unpaced.",
    )
    max_concurrency: int = Field(default=4, description="Requests in flight at once.")
    max_attempts: int = Field(default=6, description="HTTP attempts per request before giving up.")
    retry_base_delay: float = Field(
        default=0.5, description="First backoff wait in seconds; doubles per retry."
    )

    def client(self) -> WistiaClient:
        return WistiaClient(
            self.api_token,
            base_url=self.base_url,
            requests_per_minute=self.requests_per_minute,
            max_concurrency=self.max_concurrency,
            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay=self.retry_base_delay),
        )


#: Native Redshift tables, the Glue-catalogued S3 lake, or the plain lake (see `io_manager`).
IO_MANAGER = "wistia_io_manager"


def wistia_resource(settings: Settings) -> WistiaResource:
    """The token stays an EnvVar (never in run config or logs); URL and pace may point at the sandbox."""
    options: dict[str, object] = {}
    if settings.wistia.base_url:
        options["base_url"] = settings.wistia.base_url
    if settings.wistia.requests_per_minute is not None:
        options["requests_per_minute"] = settings.wistia.requests_per_minute
    return WistiaResource(api_token=dg.EnvVar("WISTIA_API_TOKEN"), **options)


def io_manager(settings: Settings) -> dg.ConfigurableIOManager:
    """Native Redshift tables, the Glue-catalogued S3 lake, or the plain lake, in that order. The
    Redshift and Glue modules (dagster_aws, boto3: seconds of import) load only when configured."""
    if settings.storage_for("wistia")[0] == "redshift":
        from video_analytics.storage.redshift import redshift_io_manager

        return redshift_io_manager(settings.redshift, settings.wistia.redshift_schema)
    database = settings.wistia.glue_database
    if settings.lake_root.startswith(("s3://", "s3a://")) and database:
        from video_analytics.storage.glue import GlueCatalogedParquetIOManager

        return GlueCatalogedParquetIOManager(
            root=settings.lake_root, database=database, endpoint_url=glue_endpoint_url()
        )
    return lake_io_manager(settings)


def build_resources(settings: Settings) -> dict[str, object]:
    return {"wistia": wistia_resource(settings), IO_MANAGER: io_manager(settings)}
